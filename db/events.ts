import type { Knex } from 'knex';

import { EVENTS_CHANNEL } from '../core/events';
import { prepared } from './prepared';

/** Below Postgres' limit on a NOTIFY payload (8000 bytes), with room for the channel's bookkeeping. */
export const NOTIFY_ROWS_MAX_BYTES = 7900;

/**
 * What every API replica hears on EVENTS_CHANNEL when events are written: the order (null for a
 * location's events), the topics any of them is on, their ids, and the rows themselves when they
 * fit in a payload (else the listener reads them by id), so a replica delivers without a query.
 */
export interface EventNotification {
  o: string | null;
  t: string[];
  ids: number[];
  rows?: NotifiedEvent[];
}

/** An event row as a notification carries it: id, location, version, event, topics, data. */
export interface NotifiedEvent {
  id: number;
  l: string;
  v: number;
  e: string;
  t: string[];
  d: unknown;
}

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
 * once the transaction commits. All rows of one call belong to one order, or to none. One
 * statement, so one round trip: the insert is a CTE whose rows the NOTIFY aggregates (no rows
 * inserted, no NOTIFY), and `alongside`, another data-modifying query (the order's projection),
 * runs in the same statement. Postgres runs every data-modifying CTE exactly once, whether the
 * outer query reads it or not. The payload is a {@link EventNotification}.
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
    .returning(['id', 'location_id', 'version', 'event', 'topics', 'data'])
    .toSQL();
  const side = alongside?.toSQL();
  const topics = [...new Set(rows.flatMap((r) => r.topics))];
  // Built twice in SQL, rows and all, and sent whole when it fits the limit: Postgres refuses a
  // payload of 8000 bytes or more, and the check is on the text as sent.
  await prepared(
    db.raw(
      `with inserted as (${insert.sql})${side ? `, alongside as (${side.sql})` : ''},
     batch as (
       select ?::text as o, ?::json as t, json_agg(id order by id) as ids,
              json_agg(json_build_object('id', id, 'l', location_id, 'v', version, 'e', event, 't', topics, 'd', data)
                       order by id) as rows
       from inserted having count(*) > 0),
     payload as (
       select json_build_object('o', o, 't', t, 'ids', ids, 'rows', rows)::text as whole,
              json_build_object('o', o, 't', t, 'ids', ids)::text as head
       from batch)
     select pg_notify(?, case when octet_length(whole) <= ${NOTIFY_ROWS_MAX_BYTES} then whole else head end) from payload`,
      [...insert.bindings, ...(side?.bindings ?? []), rows[0]!.orderId, JSON.stringify(topics), EVENTS_CHANNEL],
    ),
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
