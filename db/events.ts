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
 * The one writer of order_events: appends the rows not yet written and NOTIFYs every API replica
 * with their ids once the transaction commits (payloads stay tiny; listeners read the rows). All
 * rows of one call belong to one order, or to none. One statement, so one round trip: the insert
 * is a CTE whose ids the NOTIFY aggregates (no rows inserted, no NOTIFY), and `alongside`, another
 * data-modifying query (the order's projection), runs in the same statement. Postgres runs every
 * data-modifying CTE exactly once, whether the outer query reads it or not.
 */
export async function appendEvents(
  db: Knex | Knex.Transaction,
  rows: EventRow[],
  alongside?: Knex.QueryBuilder,
): Promise<void> {
  if (!rows.length) {
    if (alongside) await alongside;
    return;
  }
  const insert = db('order_events')
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
    .returning('id')
    .toSQL();
  const side = alongside?.toSQL();
  const topics = [...new Set(rows.flatMap((r) => r.topics))];
  await db.raw(
    `with inserted as (${insert.sql})${side ? `, alongside as (${side.sql})` : ''}
     select pg_notify(?, json_build_object('o', ?::text, 'ids', json_agg(id order by id), 't', ?::json)::text)
     from inserted having count(*) > 0`,
    [...insert.bindings, ...(side?.bindings ?? []), EVENTS_CHANNEL, rows[0]!.orderId, JSON.stringify(topics)],
  );
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
