/**
 * One `stock-count` workflow per count (id `stock-count-<countId>`), from the opening snapshot
 * to completion, cancellation or abandonment.
 *
 * Counting is an Update: the validator refuses items outside the count and counts that are no
 * longer open before anything reaches history; the handler records the count together with the
 * item's stock at that moment (an activity, under the item's row lock). Completing waits for
 * recordings in flight, then applies every variance in one idempotent transaction.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import * as sc from '../core/stock-count';
import type { StockCountState } from '../core/stock-count';
import { Rejection } from '../core/failures';
import { guard, rejectionFailure } from './rejection';
import { SA } from '../core/search-attributes';
import type { InventoryActivities } from '../activities/inventory';

export interface StockCountInput {
  state: StockCountState;
  /** What to count (first run only): a category, a list of items, or every stock-tracked item. */
  categoryId?: string | null;
  itemIds?: string[] | null;
  /** Cancel a count nobody touched for this long. */
  abandonAfterMs: number;
  /** Continue-as-new after this many updates, well under Temporal's 2,000 per run. */
  maxUpdatesPerRun?: number;
  /** When the count was last touched (carried over by continue-as-new, for the abandon clock). */
  lastActivityMs?: number;
}

const { openStockCount, recordStockCount, applyStockCount, cancelStockCount } = proxyActivities<InventoryActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});

const finished = (s: StockCountState) =>
  s.status === 'completed' || s.status === 'cancelled' || s.status === 'rejected';

export async function stockCount(input: StockCountInput): Promise<StockCountState> {
  const state = input.state;
  const maxUpdates = input.maxUpdatesPerRun ?? 1000;
  let updatesThisRun = 0;
  let lastActivity = input.lastActivityMs ?? Date.now();
  let inFlight = 0;
  let openFailure: ApplicationFailure | undefined;

  let shownStatus = '';
  function show(): void {
    setCurrentDetails(sc.describe(state, new Date(lastActivity + input.abandonAfterMs).toISOString()));
    if (state.status === shownStatus) return;
    shownStatus = state.status;
    upsertSearchAttributes([{ key: SA.stockCountStatus, value: state.status }]);
  }

  /** Ends the count without applying anything; recordings in flight finish first. */
  async function cancel(staffId: string | null, reason: string): Promise<void> {
    state.status = 'cancelling';
    show();
    await condition(() => inFlight === 0);
    await cancelStockCount({ countId: state.id, staffId, reason });
    state.status = 'cancelled';
    state.cancelReason = reason;
    show();
  }

  setHandler(sc.stockCountStateQuery, () => state);

  setHandler(
    sc.openStockCountUpdate,
    async () => {
      await condition(() => state.itemIds !== null || openFailure !== undefined);
      if (openFailure) throw openFailure;
    },
    { validator: (caller) => guard(() => sc.checkCaller(state, caller)) },
  );

  setHandler(
    sc.recordCountUpdate,
    async (req) => {
      guard(() => sc.checkRecord(state, req));
      const seq = ++state.seq;
      updatesThisRun += 1;
      lastActivity = Date.now();
      inFlight += 1;
      try {
        const row = await recordStockCount({
          countId: state.id,
          locationId: state.locationId,
          itemId: req.itemId,
          counted: req.counted,
          seq,
          staffId: req.staffId,
        });
        sc.applyRecord(state, req, seq);
        return sc.lineView(row);
      } finally {
        inFlight -= 1;
        show();
      }
    },
    { validator: (req) => guard(() => sc.checkRecord(state, req)) },
  );

  /** Complete and cancel: the first request does the work, a repeat waits for its outcome. */
  function finishHandler(
    def: typeof sc.completeStockCountUpdate,
    action: 'complete' | 'cancel',
    run: (req: sc.FinishRequest) => Promise<void>,
  ) {
    setHandler(
      def,
      async (req) => {
        let step: 'start' | 'join' = 'join';
        guard(() => (step = sc.checkFinish(state, req, action)));
        if (step === 'join') {
          await condition(() => finished(state));
          return;
        }
        updatesThisRun += 1;
        await run(req);
      },
      { validator: (req) => guard(() => sc.checkFinish(state, req, action)) },
    );
  }

  finishHandler(sc.completeStockCountUpdate, 'complete', async (req) => {
    state.status = 'completing';
    show();
    await condition(() => inFlight === 0);
    await applyStockCount({ countId: state.id, staffId: req.staffId });
    state.status = 'completed';
    show();
  });
  finishHandler(sc.cancelStockCountUpdate, 'cancel', (req) => cancel(req.staffId, 'cancelled by staff'));

  // ---- run ----
  if (state.itemIds === null) {
    const opened = await openStockCount({
      countId: state.id,
      locationId: state.locationId,
      staffId: state.staffId,
      categoryId: input.categoryId,
      itemIds: input.itemIds,
    });
    if (!opened.ok) {
      openFailure = rejectionFailure(
        opened.kind === 'empty'
          ? new Rejection('validation', opened.message, 'itemIds')
          : new Rejection('conflict', opened.message),
      );
      state.status = 'rejected';
      state.cancelReason = opened.message;
    } else {
      state.itemIds = opened.itemIds;
    }
  }
  show();

  while (!finished(state)) {
    const wake = () =>
      finished(state) ||
      state.status !== 'open' ||
      updatesThisRun >= maxUpdates ||
      workflowInfo().continueAsNewSuggested;
    if (state.status !== 'open') {
      // Completing or cancelling: no abandon clock while that finishes.
      await condition(() => finished(state));
      break;
    }
    const woke = await condition(wake, Math.max(input.abandonAfterMs - (Date.now() - lastActivity), 1));
    if (finished(state)) break;
    if (!woke && inFlight === 0 && Date.now() - lastActivity >= input.abandonAfterMs) {
      await cancel(null, `abandoned: untouched for ${Math.round(input.abandonAfterMs / 3600_000)} h`);
      break;
    }
    if (updatesThisRun >= maxUpdates || workflowInfo().continueAsNewSuggested) {
      await condition(() => allHandlersFinished() && inFlight === 0);
      // A complete or cancel that arrived while we waited ends this run instead.
      if (state.status === 'open')
        await continueAsNew<typeof stockCount>({ ...input, state, lastActivityMs: lastActivity });
    }
  }
  await condition(allHandlersFinished);
  return state;
}
