/**
 * Order events and the live order projection, written in one transaction and announced with one
 * NOTIFY. Shared by the checkout's activities (durable catch-up, close) and the API, which
 * publishes a cart change the moment its Update answers (issue 10): whoever writes first wins,
 * the other's rows are ignored (dedupe keys) and the projection only ever moves to newer versions.
 */
import type { Knex } from 'knex';
import type { OrderEvent } from '../core/events';
import { appendEvents } from './events';
import type { OrderSnapshot } from '../core/order';
import { projectionRow } from './order-projection';
import { KEEP_RECEIPT_NUMBER } from './receipt-numbers';

export interface PublishRequest {
  orderId: string;
  locationId: string;
  events: OrderEvent[];
  /** The order as of the newest event: kept as the live projection for lists and reconnects. */
  snapshot?: OrderSnapshot;
  /** For events without an order version (printer problems): what makes a retry a duplicate. */
  dedupeKey?: string;
}

/**
 * The live projection's upsert, unless a newer version is already there, as a query: run it
 * alongside the events (see appendEvents) or the close's own rows (activities/orders.ts).
 */
export function projectionUpsert(db: Knex | Knex.Transaction, s: OrderSnapshot, extra: Record<string, unknown> = {}) {
  const row = { ...projectionRow(s), ...extra };
  // The key stays out of the update: updating it (even to itself) locks the row against the
  // key-share locks that the order's event inserts take (foreign key), and two writers deadlock.
  const { id: _id, ...changes } = row;
  // Strictly newer only: a repeated publish of the same version (e.g. after close) must not
  // overwrite what the closing transaction wrote. A later snapshot (a refund) keeps the receipt number.
  return db('orders')
    .insert(row)
    .onConflict('id')
    .merge({ ...changes, snapshot: db.raw(`?::jsonb || ${KEEP_RECEIPT_NUMBER}`, [row.snapshot]) })
    .where('orders.version', '<', s.version);
}

/**
 * Appends events and updates the projection in one statement (see appendEvents), in the caller's
 * transaction or on its own. Rows already written are skipped, so a batch may be written any
 * number of times, by any writer.
 */
export async function writeOrderEvents(db: Knex | Knex.Transaction, req: PublishRequest): Promise<void> {
  // Several events of one name at one version (e.g. a low-stock alert per item) are told
  // apart by their place in the batch; a retried publish sends the same batch.
  const seen = new Map<string, number>();
  const rows = req.events.map((e) => {
    const base = req.dedupeKey ? `${req.dedupeKey}:${e.event}` : `${req.orderId}:${e.version}:${e.event}`;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return {
      locationId: req.locationId,
      orderId: req.orderId,
      version: e.version,
      event: e.event,
      topics: e.topics,
      data: e.data,
      dedupeKey: n === 0 ? base : `${base}:${n}`,
    };
  });
  await appendEvents(db, rows, req.snapshot && projectionUpsert(db, req.snapshot));
}
