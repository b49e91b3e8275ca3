import type { Knex } from 'knex';

import { EVENTS_CHANNEL } from '../core/events';

/** One row of order_events: an order's event at its version, or a location's (no order, version 0). */
export interface EventRow {
  locationId: string;
  orderId: string | null;
  version: number;
  event: string;
  topics: string[];
  data: unknown;
  /** What makes a retried write a duplicate (rows already written are skipped). */
  dedupeKey: string;
}

/**
 * The one writer of order_events: appends the rows not yet written in the caller's transaction
 * and NOTIFYs every API replica with their ids once it commits (payloads stay tiny; listeners
 * read the rows). All rows of one call belong to one order, or to none.
 */
export async function appendEvents(trx: Knex.Transaction, rows: EventRow[]): Promise<void> {
  if (!rows.length) return;
  const inserted = await trx('order_events')
    .insert(
      rows.map((r) => ({
        location_id: r.locationId,
        order_id: r.orderId,
        version: r.version,
        event: r.event,
        topics: r.topics,
        data: JSON.stringify(r.data),
        dedupe_key: r.dedupeKey,
      })),
    )
    .onConflict('dedupe_key')
    .ignore()
    .returning('id');
  if (!inserted.length) return;
  const payload = JSON.stringify({
    o: rows[0]!.orderId,
    ids: inserted.map((r: { id: string | number }) => Number(r.id)),
    t: [...new Set(rows.flatMap((r) => r.topics))],
  });
  await trx.raw('select pg_notify(?, ?)', [EVENTS_CHANNEL, payload]);
}

export interface LocationEvent {
  event: string;
  data: unknown;
  /** What makes a retried write a duplicate. */
  dedupeKey: string;
}

/**
 * Writes events that belong to no order (tables, customers, stock alerts…) on the location's
 * `orders:` topic in the caller's transaction. They carry no order version.
 */
export async function publishLocationEvents(
  trx: Knex.Transaction,
  locationId: string,
  events: LocationEvent[],
): Promise<void> {
  const topics = [`orders:${locationId}`];
  await appendEvents(
    trx,
    events.map((e) => ({ locationId, orderId: null, version: 0, topics, ...e })),
  );
}
