import { randomUUID } from 'node:crypto';
import { isGrpcServiceError, ServiceError, type WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';

/** gRPC FAILED_PRECONDITION: the server dropped the Update because the workflow task carrying it failed. */
const GRPC_FAILED_PRECONDITION = 9;
const TASK_FAILURE_RETRIES = 5;
const TASK_FAILURE_BACKOFF_MS = 250;

/**
 * Executes an Update, sending it again when the server dropped it with the workflow task that
 * carried it. That happens when the workflow was completing a task while the Update arrived (the
 * server answers the completion with UnhandledCommand and fails the task): the Update was never
 * accepted, and every attempt carries the same Update id, so it applies at most once. A task that
 * keeps failing for a moment (a worker swapped mid-task) is given time: 250 ms, 500 ms, … between
 * attempts. Every Update the API sends goes through here.
 */
export async function executeUpdate<Ret, Arg>(
  handle: WorkflowHandle,
  def: UpdateDefinition<Ret, [Arg]>,
  arg: Arg,
  updateId: string = randomUUID(),
): Promise<Ret> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await handle.executeUpdate(def, { args: [arg], updateId });
    } catch (err) {
      const grpc = err instanceof ServiceError && isGrpcServiceError(err.cause) ? err.cause : undefined;
      if (grpc?.code !== GRPC_FAILED_PRECONDITION || attempt >= TASK_FAILURE_RETRIES) throw err;
      await new Promise((resolve) => setTimeout(resolve, TASK_FAILURE_BACKOFF_MS * attempt));
    }
  }
}
