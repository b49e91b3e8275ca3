import type { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { orderIdOfWorkflow } from '../core/events';
import { withLogIds, type LogIds } from '../platform/log-context';
import type { Logger } from '../platform/logger';

/** The order an activity works for: from its workflow's id, else the `orderId` of its input (refunds, e-mails). */
function orderIdOf(workflowId: string | undefined, args: unknown[]): string | undefined {
  const fromWorkflow = workflowId ? orderIdOfWorkflow(workflowId) : null;
  if (fromWorkflow) return fromWorkflow;
  const input = args[0] as { orderId?: unknown } | undefined;
  return typeof input?.orderId === 'string' ? input.orderId : undefined;
}

/** The longest failure message an activity hands to Temporal (see bounded). */
const MAX_FAILURE_MESSAGE = 1000;

/**
 * Temporal refuses an activity failure above its size limit (4 KiB on the dev server) and records
 * only "Failure exceeds size limit.", so support would lose the cause. A database error's message
 * is the whole statement with its bindings (knex) followed by the database's own words: a longer
 * message is kept from its end, under the same failure type. Typed failures pass as they are.
 */
function bounded(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof ApplicationFailure) return err;
  if (err.message.length <= MAX_FAILURE_MESSAGE) return err;
  return ApplicationFailure.create({ type: err.name, message: `…${err.message.slice(-MAX_FAILURE_MESSAGE)}` });
}

/**
 * Every activity (local ones too) runs under its workflow's ids, so whatever it logs carries
 * them, and ends with one `activity completed` / `activity failed` line: the worker's half of the
 * trail the API's `request` lines start (api/request-log.ts). What it throws reaches Temporal
 * bounded in size.
 */
export function activityLogInterceptor(logger: Logger): ActivityInterceptorsFactory {
  return (ctx: Context) => {
    const inbound: ActivityInboundCallsInterceptor = {
      async execute(input, next) {
        const { info } = ctx;
        const workflowId = info.workflowExecution?.workflowId;
        const ids: LogIds = {
          workflowId,
          runId: info.workflowExecution?.runId,
          activity: info.activityType,
          orderId: orderIdOf(workflowId, input.args),
        };
        return withLogIds(ids, async () => {
          const started = performance.now();
          const facts = () => ({
            attempt: info.attempt,
            local: info.isLocal,
            ms: Math.round(performance.now() - started),
          });
          try {
            const result = await next(input);
            logger.info(facts(), 'activity completed');
            return result;
          } catch (err) {
            // Info, not warn: an attempt that throws is often a planned retry, and the SDK warns of failures itself.
            logger.info({ ...facts(), err }, 'activity failed');
            throw bounded(err);
          }
        });
      },
    };
    return { inbound };
  };
}
