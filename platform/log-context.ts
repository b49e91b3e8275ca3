import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The ids that tie a log line to what it is about. Every line logged while one is current carries
 * them (platform/logger.ts mixes them in), so one grep of an order id finds its API requests and
 * its activities alike, whoever logs them.
 */
export interface LogIds {
  requestId?: string;
  orderId?: string;
  workflowId?: string;
  runId?: string;
  activity?: string;
}

const current = new AsyncLocalStorage<LogIds>();

/** Runs `fn` with `ids` on every line it logs (including from whatever it awaits). */
export function withLogIds<T>(ids: LogIds, fn: () => T): T {
  return current.run(ids, fn);
}

export function currentLogIds(): LogIds | undefined {
  return current.getStore();
}
