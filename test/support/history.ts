import type { Client } from '@temporalio/client';

export async function historyLength(temporal: Client, orderId: string): Promise<number> {
  const history = await temporal.workflow.getHandle(`order-${orderId}`).fetchHistory();
  return history.events?.length ?? 0;
}

/**
 * The history length once the workflow is idle: an accepted change may still be followed by its
 * side effects (event publishing, a print child workflow) for a moment after the response.
 */
export async function settledHistoryLength(temporal: Client, orderId: string): Promise<number> {
  let last = await historyLength(temporal, orderId);
  for (let stableFor = 0; stableFor < 3;) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await historyLength(temporal, orderId);
    stableFor = now === last ? stableFor + 1 : 0;
    last = now;
  }
  return last;
}
