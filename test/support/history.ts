import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';

const orderHandle = (temporal: Client, orderId: string) => temporal.workflow.getHandle(`order-${orderId}`);

async function historyLength(temporal: Client, orderId: string): Promise<number> {
  return (await orderHandle(temporal, orderId).fetchHistory()).events?.length ?? 0;
}

/**
 * The history length once the workflow is idle: an accepted change may still be followed by its
 * side effects (event publishing, a print child workflow) for a moment after the response, and on
 * a loaded machine a task can wait in Temporal's queue far longer than any quiet spell we could
 * wait out. Idle is what Temporal says: no workflow task, activity or child pending, and the
 * history unchanged across three reads.
 */
async function settledHistoryLength(temporal: Client, orderId: string): Promise<number> {
  let last = -1;
  for (let stableFor = 0; stableFor < 3;) {
    await new Promise((r) => setTimeout(r, 100));
    const now = (await isIdle(temporal, orderId)) ? await historyLength(temporal, orderId) : -1;
    stableFor = now >= 0 && now === last ? stableFor + 1 : 0;
    last = now;
  }
  return last;
}

async function isIdle(temporal: Client, orderId: string): Promise<boolean> {
  const { raw } = await orderHandle(temporal, orderId).describe();
  return !raw.pendingWorkflowTask && !raw.pendingActivities?.length && !raw.pendingChildren?.length;
}

/**
 * The events `fn` added to the order's history once it was idle, by name ("WORKFLOW_TASK_COMPLETED"),
 * so a failure says what a rejection wrote; a rejected Update writes none. The order's own catch-up
 * timer (armed while its outbox holds events) may fire inside the window: what follows a fired timer
 * is the order's own work until a message arrives, and anything `fn` causes begins with one, so
 * those events are left out rather than blamed on `fn`.
 */
export async function eventsWrittenBy(temporal: Client, orderId: string, fn: () => Promise<void>): Promise<string[]> {
  const before = await settledHistoryLength(temporal, orderId);
  await fn();
  const { events } = await orderHandle(temporal, orderId).fetchHistory();
  const names = (events ?? [])
    .slice(before)
    .map((e) => String(proto.api.enums.v1.EventType[e.eventType!]).replace('EVENT_TYPE_', ''));
  return withoutTimerWork(names);
}

const isMessage = (name: string) =>
  name.startsWith('WORKFLOW_EXECUTION_UPDATE_') || name === 'WORKFLOW_EXECUTION_SIGNALED';

function withoutTimerWork(names: string[]): string[] {
  let timerDriven = false;
  return names.filter((name) => {
    if (name === 'TIMER_FIRED') timerDriven = true;
    else if (isMessage(name)) timerDriven = false;
    return !timerDriven;
  });
}
