/**
 * The stock-count workflow's pure rules and messages, shared by the workflow and the API (no
 * Node imports). The count's lines live in Postgres; the workflow keeps which items are in the
 * count and the newest recording of each, and decides what is allowed.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { Rejection } from './failures';

/** `rejected`: the count could not open (nothing to count, or items already in an open count). */
export type StockCountStatus = 'open' | 'completing' | 'completed' | 'cancelling' | 'cancelled' | 'rejected';

export const stockCountWorkflowId = (countId: string) => `stock-count-${countId}`;

export interface StockCountState {
  id: string;
  locationId: string;
  staffId: string;
  status: StockCountStatus;
  /** Null until the opening snapshot has been written. */
  itemIds: string[] | null;
  /** itemId → the newest recording's sequence number and value. */
  counted: Record<string, { counted: number; seq: number }>;
  /** Numbers recordings so the newest wins in the database as well, whatever order they finish in. */
  seq: number;
  startedAt: string;
  cancelReason: string | null;
}

export interface Caller {
  callerLocationId: string;
}
export interface RecordCountRequest extends Caller {
  itemId: string;
  counted: number;
  staffId: string;
}
export interface FinishRequest extends Caller {
  staffId: string;
}

/** A count line as the API shows it. */
export interface StockCountLineView {
  itemId: string;
  name: string;
  expected: number;
  counted: number | null;
  /** The item's stock when it was counted. */
  systemAtCount: number | null;
  movedDuringCount: number | null;
  variance: number | null;
  varianceValue: number | null;
  countedAt: string | null;
}

export const openStockCountUpdate = defineUpdate<void, [Caller]>('openStockCount');
export const recordCountUpdate = defineUpdate<StockCountLineView, [RecordCountRequest]>('recordCount');
export const completeStockCountUpdate = defineUpdate<void, [FinishRequest]>('completeStockCount');
export const cancelStockCountUpdate = defineUpdate<void, [FinishRequest]>('cancelStockCount');
export const stockCountStateQuery = defineQuery<StockCountState>('stockCountState');

/** A request the rules refuse: `validation` → 422, `conflict` → 409, `not_found` → 404. */
export class StockCountRejection extends Rejection {}

const INT4_MAX = 2_147_483_647;

export function checkCaller(state: StockCountState, caller: Caller): void {
  if (caller.callerLocationId !== state.locationId) throw new StockCountRejection('not_found', 'Stock count not found');
}

export function checkOpen(state: StockCountState): void {
  if (state.status !== 'open' || state.itemIds === null)
    throw new StockCountRejection('conflict', `Stock count is ${state.status}`);
}

export function checkRecord(state: StockCountState, req: RecordCountRequest): void {
  checkCaller(state, req);
  checkOpen(state);
  if (!state.itemIds!.includes(req.itemId))
    throw new StockCountRejection('validation', 'This item is not part of the count', 'itemId');
  if (!Number.isInteger(req.counted) || req.counted < 0 || req.counted > INT4_MAX) {
    throw new StockCountRejection('validation', 'counted must be a whole number of at least 0', 'counted');
  }
}

/**
 * Completing (or cancelling) an open count starts it; repeating the same request while it runs
 * or after it finished joins it (so a retry gets the outcome, not an error); anything else is a 409.
 */
export function checkFinish(
  state: StockCountState,
  req: FinishRequest,
  action: 'complete' | 'cancel',
): 'start' | 'join' {
  checkCaller(state, req);
  const joinable: StockCountStatus[] =
    action === 'complete' ? ['completing', 'completed'] : ['cancelling', 'cancelled'];
  if (joinable.includes(state.status)) return 'join';
  checkOpen(state);
  return 'start';
}

/** Keeps the newest recording (highest sequence number) of an item. */
export function applyRecord(state: StockCountState, req: RecordCountRequest, seq: number): void {
  const earlier = state.counted[req.itemId];
  if (!earlier || earlier.seq < seq) state.counted[req.itemId] = { counted: req.counted, seq };
}

/** A count line as stored (name and cost as they were when the count started). */
export interface StockCountLineRow {
  itemId: string;
  name: string;
  expected: number;
  counted: number | null;
  systemAtCount: number | null;
  cost: number | null;
  countedAt: string | null;
}

/**
 * A line with its figures: what moved between the start and the counting, and the variance
 * against the stock at that moment, in units and at cost (an item without a cost counts as 0).
 */
export function lineView(l: StockCountLineRow): StockCountLineView {
  const { cost: _cost, ...rest } = l;
  if (l.counted === null || l.systemAtCount === null)
    return { ...rest, movedDuringCount: null, variance: null, varianceValue: null };
  const variance = l.counted - l.systemAtCount;
  return { ...rest, movedDuringCount: l.systemAtCount - l.expected, variance, varianceValue: variance * (l.cost ?? 0) };
}

/** The line support staff see as "current details" in the Temporal UI. */
export function describe(state: StockCountState, abandonsAt: string | null): string {
  const total = state.itemIds?.length ?? 0;
  const parts = [
    `Stock count ${state.status}`,
    `${Object.keys(state.counted).length} of ${total} item(s) counted`,
    `started ${state.startedAt}`,
  ];
  if (state.status === 'open' && abandonsAt) parts.push(`cancelled if untouched until ${abandonsAt}`);
  if (state.cancelReason) parts.push(`reason: ${state.cancelReason}`);
  return parts.join(' · ');
}
