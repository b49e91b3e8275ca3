/**
 * Tables and their claims (who sits where). "One open order per table" is decided by one partial
 * unique index (migration 050): a claim either gets in or names the order that holds the table.
 * Every change of a table's occupancy publishes `table.updated` in the same transaction.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { publishLocationEvents } from './events';
import { prepared } from './prepared';

type Db = Knex | Knex.Transaction;

export interface TableView {
  id: string;
  name: string;
  seats: number;
  area: string | null;
  sortOrder: number;
  active: boolean;
  status: 'free' | 'occupied';
  openOrderIds: string[];
  createdAt: string;
  updatedAt: string;
}

/** The location's tables (or those named) with their open orders, in floor order. */
export async function tableViews(db: Db, locationId: string, ids?: string[]): Promise<TableView[]> {
  const q = db('tables as t')
    .where('t.location_id', locationId)
    .leftJoin('table_claims as c', (j) => j.on('c.table_id', 't.id').andOnNull('c.released_at'))
    .groupBy('t.id')
    .orderBy([{ column: 't.sort_order' }, { column: 't.name' }, { column: 't.id' }])
    .select(
      't.*',
      db.raw(
        `coalesce(array_agg(c.order_id::text ORDER BY c.created_at, c.order_id) FILTER (WHERE c.order_id IS NOT NULL), '{}') as open_order_ids`,
      ),
    );
  if (ids) q.whereIn('t.id', ids);
  const rows = await q;
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    seats: r.seats,
    area: r.area,
    sortOrder: r.sort_order,
    active: r.active,
    status: r.open_order_ids.length ? 'occupied' : 'free',
    openOrderIds: r.open_order_ids,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  }));
}

/** Publishes the current view of each table named (after its occupancy changed). */
export async function publishTablesUpdated(
  trx: Knex.Transaction,
  locationId: string,
  tableIds: string[],
): Promise<void> {
  const views = await tableViews(trx, locationId, [...new Set(tableIds)]);
  await publishLocationEvents(
    trx,
    locationId,
    views.map((v) => ({ event: 'table.updated', data: v, dedupeKey: `table.updated:${v.id}:${randomUUID()}` })),
  );
}

export type ClaimOutcome = { ok: true } | { ok: false; existingOrderId: string; claimedAt: Date };

/**
 * Seats an order at a table. A first check takes the table only when no other first check holds
 * it (the unique index decides, whoever comes first); a new check (or a split) shares it. A repeat
 * for the same order on the same table succeeds again. An order already seated elsewhere moves.
 */
export async function claimTable(
  trx: Knex.Transaction,
  c: { orderId: string; locationId: string; tableId: string; newCheck: boolean },
): Promise<ClaimOutcome> {
  const mine = await trx('table_claims').where({ order_id: c.orderId }).first('table_id', 'released_at');
  if (mine && !mine.released_at && mine.table_id === c.tableId) return { ok: true };
  // A refused claim rolls back to its savepoint only (the error must leave the savepoint's callback).
  const taken = await trx
    .transaction(async (sp) => {
      const claim = { table_id: c.tableId, new_check: c.newCheck, created_at: sp.fn.now(), released_at: null };
      if (mine) await sp('table_claims').where({ order_id: c.orderId }).update(claim);
      else await sp('table_claims').insert({ ...claim, order_id: c.orderId, location_id: c.locationId });
      return false;
    })
    .catch((err: { code?: string }) => {
      if (err.code === '23505') return true;
      throw err;
    });
  if (taken) {
    const holder = await trx('table_claims')
      .where({ table_id: c.tableId, new_check: false })
      .whereNull('released_at')
      .first('order_id', 'created_at');
    // Released in between: the caller may simply try again.
    if (holder?.order_id === c.orderId) return { ok: true }; // the same create, retried at the same moment
    return holder
      ? { ok: false, existingOrderId: holder.order_id, claimedAt: new Date(holder.created_at) }
      : claimTable(trx, c);
  }
  await publishTablesUpdated(trx, c.locationId, [c.tableId, ...(mine && !mine.released_at ? [mine.table_id] : [])]);
  return { ok: true };
}

/** Frees the order's table (close, cancel, a move off the floor). Idempotent. */
export async function releaseTableClaim(trx: Knex.Transaction, orderId: string): Promise<void> {
  await publishReleased(trx, await prepared(claimRelease(trx, orderId)));
}

/** The release of the order's claim as a query, returning the table it freed (none when it held none). */
export function claimRelease(trx: Knex.Transaction, orderId: string) {
  return trx('table_claims')
    .where({ order_id: orderId })
    .whereNull('released_at')
    .update({ released_at: trx.fn.now() })
    .returning(['table_id', 'location_id']);
}

/** Tells the floor a claim's table is free. */
export async function publishReleased(
  trx: Knex.Transaction,
  released: Array<{ table_id: string; location_id: string }>,
): Promise<void> {
  if (released.length) await publishTablesUpdated(trx, released[0]!.location_id, [released[0]!.table_id]);
}

/** Drops a claim that never got its order (the API died between the claim and the workflow's start). */
export async function dropClaim(db: Db, orderId: string): Promise<void> {
  await db('table_claims').where({ order_id: orderId }).delete();
}
