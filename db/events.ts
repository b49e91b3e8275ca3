import type { Knex } from 'knex';

import { EVENTS_CHANNEL } from '../core/events';

export interface LocationEvent {
  event: string;
  data: unknown;
  /** What makes a retried write a duplicate. */
  dedupeKey: string;
}

/**
 * Writes events that belong to no order (tables, customers…) on the location's `orders:` topic in
 * the caller's transaction and notifies the replicas once it commits. They carry no order version.
 */
export async function publishLocationEvents(
  trx: Knex.Transaction,
  locationId: string,
  events: LocationEvent[],
): Promise<void> {
  if (!events.length) return;
  const topics = [`orders:${locationId}`];
  const rows = events.map((e) => ({
    location_id: locationId,
    order_id: null,
    version: 0,
    event: e.event,
    topics,
    data: JSON.stringify(e.data),
    dedupe_key: e.dedupeKey,
  }));
  const inserted = await trx('order_events').insert(rows).onConflict('dedupe_key').ignore().returning('id');
  if (!inserted.length) return;
  const payload = JSON.stringify({
    o: null,
    ids: inserted.map((r: { id: string | number }) => Number(r.id)),
    t: topics,
  });
  await trx.raw('select pg_notify(?, ?)', [EVENTS_CHANNEL, payload]);
}
