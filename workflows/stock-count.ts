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
  return new StockCountRun(input).run();
}

/** One count's state, its Updates (open, record, complete, cancel) and the run that ends it. */
class StockCountRun {
  private readonly state: StockCountState;
  private readonly maxUpdates: number;
  private updatesThisRun = 0;
  private lastActivity: number;
  private inFlight = 0;
  private openFailure: ApplicationFailure | undefined;
  private shownStatus = '';

  constructor(private readonly input: StockCountInput) {
    this.state = input.state;
    this.maxUpdates = input.maxUpdatesPerRun ?? 1000;
    this.lastActivity = input.lastActivityMs ?? Date.now();
    const { state } = this;
    setHandler(sc.stockCountStateQuery, () => state);
    setHandler(
      sc.openStockCountUpdate,
      async () => {
        await condition(() => state.itemIds !== null || this.openFailure !== undefined);
        if (this.openFailure) throw this.openFailure;
      },
      { validator: (caller) => guard(() => sc.checkCaller(state, caller)) },
    );
    setHandler(sc.recordCountUpdate, (req) => this.record(req), {
      validator: (req) => guard(() => sc.checkRecord(state, req)),
    });
    this.finishHandler(sc.completeStockCountUpdate, 'complete', (req) => this.complete(req));
    this.finishHandler(sc.cancelStockCountUpdate, 'cancel', (req) => this.cancel(req.staffId, 'cancelled by staff'));
  }

  async run(): Promise<StockCountState> {
    const { state } = this;
    if (state.itemIds === null) await this.open();
    this.show();
    await this.untilFinished();
    await condition(allHandlersFinished);
    return state;
  }

  private async open(): Promise<void> {
    const { state, input } = this;
    const opened = await openStockCount({
      countId: state.id,
      locationId: state.locationId,
      staffId: state.staffId,
      categoryId: input.categoryId,
      itemIds: input.itemIds,
    });
    if (opened.ok) {
      state.itemIds = opened.itemIds;
      return;
    }
    this.openFailure = rejectionFailure(
      opened.kind === 'empty'
        ? new Rejection('validation', opened.message, 'itemIds')
        : new Rejection('conflict', opened.message),
    );
    state.status = 'rejected';
    state.cancelReason = opened.message;
  }

  /** Waits for the count to finish; abandons it when untouched too long; continues as new when the run grows long. */
  private async untilFinished(): Promise<void> {
    const { state, input } = this;
    while (!finished(state)) {
      const wake = () => finished(state) || state.status !== 'open' || this.runIsLong();
      if (state.status !== 'open') {
        // Completing or cancelling: no abandon clock while that finishes.
        await condition(() => finished(state));
        return;
      }
      const woke = await condition(wake, Math.max(input.abandonAfterMs - (Date.now() - this.lastActivity), 1));
      if (finished(state)) return;
      if (!woke && this.inFlight === 0 && Date.now() - this.lastActivity >= input.abandonAfterMs) {
        await this.cancel(null, `abandoned: untouched for ${Math.round(input.abandonAfterMs / 3600_000)} h`);
        return;
      }
      if (this.runIsLong()) {
        await condition(() => allHandlersFinished() && this.inFlight === 0);
        // A complete or cancel that arrived while we waited ends this run instead.
        if (state.status === 'open')
          await continueAsNew<typeof stockCount>({ ...input, state, lastActivityMs: this.lastActivity });
      }
    }
  }

  private runIsLong(): boolean {
    return this.updatesThisRun >= this.maxUpdates || workflowInfo().continueAsNewSuggested;
  }

  private show(): void {
    const { state } = this;
    setCurrentDetails(sc.describe(state, new Date(this.lastActivity + this.input.abandonAfterMs).toISOString()));
    if (state.status === this.shownStatus) return;
    this.shownStatus = state.status;
    upsertSearchAttributes([{ key: SA.stockCountStatus, value: state.status }]);
  }

  private async record(req: sc.RecordCountRequest) {
    const { state } = this;
    guard(() => sc.checkRecord(state, req));
    const seq = ++state.seq;
    this.updatesThisRun += 1;
    this.lastActivity = Date.now();
    this.inFlight += 1;
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
      this.inFlight -= 1;
      this.show();
    }
  }

  /** Complete and cancel: the first request does the work, a repeat waits for its outcome. */
  private finishHandler(
    def: typeof sc.completeStockCountUpdate,
    action: 'complete' | 'cancel',
    run: (req: sc.FinishRequest) => Promise<void>,
  ): void {
    const { state } = this;
    setHandler(
      def,
      async (req) => {
        let step: 'start' | 'join' = 'join';
        guard(() => (step = sc.checkFinish(state, req, action)));
        if (step === 'join') {
          await condition(() => finished(state));
          return;
        }
        this.updatesThisRun += 1;
        await run(req);
      },
      { validator: (req) => guard(() => sc.checkFinish(state, req, action)) },
    );
  }

  private async complete(req: sc.FinishRequest): Promise<void> {
    const { state } = this;
    state.status = 'completing';
    this.show();
    await condition(() => this.inFlight === 0);
    await applyStockCount({ countId: state.id, staffId: req.staffId });
    state.status = 'completed';
    this.show();
  }

  /** Ends the count without applying anything; recordings in flight finish first. */
  private async cancel(staffId: string | null, reason: string): Promise<void> {
    const { state } = this;
    state.status = 'cancelling';
    this.show();
    await condition(() => this.inFlight === 0);
    await cancelStockCount({ countId: state.id, staffId, reason });
    state.status = 'cancelled';
    state.cancelReason = reason;
    this.show();
  }
}
