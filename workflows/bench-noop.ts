/**
 * A workflow that does nothing but answer one Update: the floor for what a Temporal Update
 * round trip costs on this stack (bench/checkout.ts compares the checkout's add-line with it).
 * Not used by the product. Keep each run well under Temporal's per-run update limit: the bench
 * starts a fresh workflow every 500 updates and sends `done` to the old one.
 */
import { allHandlersFinished, condition, defineSignal, defineUpdate, setHandler } from '@temporalio/workflow';

export const benchBumpUpdate = defineUpdate<number, []>('bump');
export const benchDoneSignal = defineSignal('done');

/** Hard stop even if nobody sends `done` (well below the 2,000 updates a run may take). */
export const BENCH_NOOP_MAX_UPDATES = 1500;

export async function benchNoop(): Promise<number> {
  let count = 0;
  let done = false;
  setHandler(benchBumpUpdate, () => {
    count += 1;
    return count;
  });
  setHandler(benchDoneSignal, () => {
    done = true;
  });
  await condition(() => done || count >= BENCH_NOOP_MAX_UPDATES);
  await condition(allHandlersFinished);
  return count;
}
