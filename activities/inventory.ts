/**
 * Stock: every change is one movement row written in the same transaction as the item's
 * quantity (under the item's row lock), so the movements always add up to the stock. Low-stock
 * alerts are kept in step in that transaction too.
 */
import type { Knex } from 'knex';
import type { StockCountLineRow } from '../core/stock-count';
import { EVENTS_CHANNEL } from './orders';

export type MovementReason = 'sale' | 'refund' | 'adjustment' | 'receive' | 'count';

export interface MovementInput {
  locationId: string;
  itemId: string;
  delta: number;
  reason: MovementReason;
  /** The order, refund or stock count that caused it. */
  reference?: string | null;
  orderId?: string | null;
  stockCountId?: string | null;
  staffId?: string | null;
  note?: string | null;
  /** A movement with a key is applied once: a repeat returns the first movement. */
  idempotencyKey?: string | null;
  /** Sales and counts always apply; adjustments may not take stock below zero unless asked to. */
  allowNegative?: boolean;
}

export interface MovementView {
  id: string;
  itemId: string;
  delta: number;
  quantityAfter: number | null;
  reason: MovementReason;
  reference: string | null;
  staffId: string | null;
  note: string | null;
  createdAt: string;
}

export interface AlertView {
  id: string;
  itemId: string;
  name?: string;
  status: 'active' | 'resolved';
  quantity: number;
  minStock: number;
  createdAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolution: 'manual' | 'restocked' | null;
}

/** What the `stock.low` event carries: the item's figures (as before) and the alert row. */
export interface LowStockAlert {
  itemId: string;
  name: string;
  stockQuantity: number;
  minStock: number;
  alert: AlertView;
}

export interface StockChange {
  movement: MovementView;
  /** False when the idempotency key had been used: nothing changed this time. */
  applied: boolean;
  /** An alert this change raised (at most one per item while it is active). */
  lowStock?: LowStockAlert;
}

/** A stock change the rules refuse; the API maps `kind` to a status. */
export class StockRejection extends Error {
  constructor(
    readonly kind: 'unknown_item' | 'not_tracked' | 'negative' | 'out_of_range',
    message: string,
  ) {
    super(message);
  }
}

const INT4_MAX = 2_147_483_647;

export const movementView = (m: Record<string, any>): MovementView => ({
  id: m.id,
  itemId: m.item_id,
  delta: m.delta,
  quantityAfter: m.quantity_after,
  reason: m.reason,
  reference: m.reference,
  staffId: m.staff_id,
  note: m.note,
  createdAt: new Date(m.created_at).toISOString(),
});

export const alertView = (a: Record<string, any>): AlertView => ({
  id: a.id,
  itemId: a.item_id,
  ...(a.name !== undefined ? { name: a.name } : {}),
  status: a.status,
  quantity: a.quantity,
  minStock: a.min_stock,
  createdAt: new Date(a.created_at).toISOString(),
  resolvedAt: a.resolved_at ? new Date(a.resolved_at).toISOString() : null,
  resolvedBy: a.resolved_by,
  resolution: a.resolution,
});

/**
 * Applies one movement: locks the item, returns the earlier movement for a used key, else moves
 * the quantity, writes the movement with the quantity it left, and raises or resolves the alert.
 * Runs inside the caller's transaction, so it commits (or not) with whatever caused it.
 */
export async function applyMovement(trx: Knex.Transaction, m: MovementInput): Promise<StockChange> {
  const item = await trx('items')
    .where({ id: m.itemId, location_id: m.locationId })
    .forUpdate()
    .first('id', 'name', 'stock_quantity', 'min_stock', 'track_stock');
  if (!item) throw new StockRejection('unknown_item', 'No such item in this location');
  if (m.idempotencyKey) {
    const earlier = await trx('inventory_movements').where('idempotency_key', m.idempotencyKey).first();
    if (earlier) return { movement: movementView(earlier), applied: false };
  }
  const after = item.stock_quantity + m.delta;
  if (after < 0 && !m.allowNegative) {
    throw new StockRejection('negative', `This would leave ${after} in stock; send allowNegative: true to allow it`);
  }
  if (Math.abs(after) > INT4_MAX) throw new StockRejection('out_of_range', 'The resulting stock is too large');
  await trx('items').where('id', item.id).update({ stock_quantity: after, updated_at: trx.fn.now() });
  const [row] = await trx('inventory_movements')
    .insert({
      location_id: m.locationId,
      item_id: m.itemId,
      delta: m.delta,
      quantity_after: after,
      reason: m.reason,
      reference: m.reference ?? null,
      order_id: m.orderId ?? null,
      stock_count_id: m.stockCountId ?? null,
      staff_id: m.staffId ?? null,
      note: m.note ?? null,
      idempotency_key: m.idempotencyKey ?? null,
    })
    .returning('*');
  const lowStock = item.track_stock ? await syncAlert(trx, { ...item, stock_quantity: after }, m.delta) : undefined;
  return { movement: movementView(row), applied: true, lowStock };
}

interface ItemStock {
  id: string;
  name: string;
  stock_quantity: number;
  min_stock: number;
}

/**
 * Falling to or below the minimum raises an alert unless one is active (the partial unique index
 * keeps it to one per item); rising above it resolves the active one.
 */
async function syncAlert(trx: Knex.Transaction, item: ItemStock, delta: number): Promise<LowStockAlert | undefined> {
  if (item.stock_quantity > item.min_stock) {
    await trx('low_stock_alerts')
      .where({ item_id: item.id, status: 'active' })
      .update({ status: 'resolved', resolved_at: trx.fn.now(), resolution: 'restocked' });
    return undefined;
  }
  if (delta >= 0) return undefined;
  const { rows } = await trx.raw(
    `INSERT INTO low_stock_alerts (location_id, item_id, quantity, min_stock)
     SELECT location_id, id, ?, ? FROM items WHERE id = ?
     ON CONFLICT (item_id) WHERE status = 'active' DO NOTHING
     RETURNING *`,
    [item.stock_quantity, item.min_stock, item.id],
  );
  if (!rows.length) return undefined;
  return { itemId: item.id, name: item.name, stockQuantity: item.stock_quantity, minStock: item.min_stock, alert: alertView({ ...rows[0], name: item.name }) };
}

/**
 * Publishes `stock.low` for alerts raised outside an order (adjustments, counts) on the
 * location's orders topic, in the caller's transaction; the alert id makes a retry a no-op.
 */
export async function publishLowStock(trx: Knex.Transaction, locationId: string, alerts: LowStockAlert[]): Promise<void> {
  if (!alerts.length) return;
  const topics = [`orders:${locationId}`];
  const inserted = await trx('order_events')
    .insert(
      alerts.map((a) => ({
        location_id: locationId,
        order_id: null,
        version: 0,
        event: 'stock.low',
        topics,
        data: JSON.stringify(a),
        dedupe_key: `stock.low:${a.alert.id}`,
      })),
    )
    .onConflict('dedupe_key')
    .ignore()
    .returning('id');
  if (!inserted.length) return;
  const payload = JSON.stringify({ o: null, ids: inserted.map((r: { id: string | number }) => Number(r.id)), t: topics });
  await trx.raw('select pg_notify(?, ?)', [EVENTS_CHANNEL, payload]);
}

// ---- stock counts ----------------------------------------------------------------------------

export interface OpenStockCountRequest {
  countId: string;
  locationId: string;
  staffId: string;
  categoryId?: string | null;
  itemIds?: string[] | null;
}
export type OpenStockCountResult = { ok: true; itemIds: string[] } | { ok: false; kind: 'empty' | 'overlap'; message: string };

export interface RecordStockCountRequest {
  countId: string;
  locationId: string;
  itemId: string;
  counted: number;
  seq: number;
  staffId: string;
}

const ONE_OPEN_COUNT_INDEX = 'stock_count_lines_one_open_count';

/** The items a count covers: stock-tracked, not deleted, of its category or its list (all otherwise). */
function countableItems(trx: Knex.Transaction, req: OpenStockCountRequest) {
  const q = trx('items').where({ location_id: req.locationId, track_stock: true }).whereNull('deleted_at');
  if (req.categoryId) q.where('category_id', req.categoryId);
  if (req.itemIds?.length) q.whereIn('id', req.itemIds);
  return q.orderBy('name').orderBy('id').select('id', 'name', 'cost', 'stock_quantity');
}

async function finish(trx: Knex.Transaction, countId: string, fields: Record<string, unknown>): Promise<void> {
  await trx('stock_counts').where('id', countId).update(fields);
  await trx('stock_count_lines').where('stock_count_id', countId).update({ active: false });
}

export function inventoryActivities({ knex }: { knex: Knex }) {
  return {
    /**
     * Writes the count and each item's expected quantity (its stock now), once: a retry finds the
     * count already there. An item may be in one open count at a time (else its variance would be
     * applied twice), which the partial unique index enforces.
     */
    async openStockCount(req: OpenStockCountRequest): Promise<OpenStockCountResult> {
      try {
        return await knex.transaction(async (trx) => {
          const existing = await trx('stock_count_lines').where('stock_count_id', req.countId).pluck('item_id');
          if (existing.length) return { ok: true as const, itemIds: existing };
          const items = await countableItems(trx, req);
          if (!items.length) return { ok: false as const, kind: 'empty' as const, message: 'No stock-tracked items to count' };
          await trx('stock_counts').insert({ id: req.countId, location_id: req.locationId, category_id: req.categoryId ?? null, status: 'open', staff_id: req.staffId });
          await trx('stock_count_lines').insert(
            items.map((i) => ({ location_id: req.locationId, stock_count_id: req.countId, item_id: i.id, name: i.name, cost: i.cost, expected: i.stock_quantity })),
          );
          return { ok: true as const, itemIds: items.map((i) => i.id as string) };
        });
      } catch (err) {
        const e = ((err as { nativeError?: unknown }).nativeError ?? err) as { code?: string; constraint?: string };
        if (e.code === '23505' && e.constraint === ONE_OPEN_COUNT_INDEX) {
          return { ok: false, kind: 'overlap', message: 'Some of these items are in another open stock count' };
        }
        throw err;
      }
    },

    /**
     * Records a count and, under the item's row lock, its stock at this moment: completing the
     * count applies `counted − that`, so sales between counting and completing stay deducted.
     */
    async recordStockCount(req: RecordStockCountRequest): Promise<StockCountLineRow> {
      return knex.transaction(async (trx) => {
        const item = await trx('items').where({ id: req.itemId, location_id: req.locationId }).forUpdate().first('stock_quantity');
        await trx('stock_count_lines')
          .where({ stock_count_id: req.countId, item_id: req.itemId, active: true })
          .where('count_seq', '<', req.seq)
          .update({ counted: req.counted, system_at_count: item?.stock_quantity ?? 0, counted_at: trx.fn.now(), counted_by: req.staffId, count_seq: req.seq });
        return lineRow(trx, req.countId, req.itemId);
      });
    },

    /**
     * Applies every counted line as one `count` movement (counted − stock when counted) and marks
     * the count completed, in one transaction; a retry finds it completed and applies nothing.
     */
    async applyStockCount(req: { countId: string; staffId: string }): Promise<void> {
      await knex.transaction(async (trx) => {
        const count = await trx('stock_counts').where('id', req.countId).forUpdate().first('status', 'location_id');
        if (!count || count.status !== 'open') return;
        const lines = await trx('stock_count_lines').where('stock_count_id', req.countId).whereNotNull('counted').orderBy('item_id');
        const alerts: LowStockAlert[] = [];
        for (const line of lines) {
          const delta = line.counted - line.system_at_count;
          await trx('stock_count_lines').where({ stock_count_id: req.countId, item_id: line.item_id }).update({ applied_delta: delta });
          if (delta === 0) continue;
          const change = await applyMovement(trx, {
            locationId: count.location_id,
            itemId: line.item_id,
            delta,
            reason: 'count',
            reference: req.countId,
            stockCountId: req.countId,
            staffId: req.staffId,
            idempotencyKey: `count:${req.countId}:${line.item_id}`,
            allowNegative: true,
          });
          if (change.lowStock) alerts.push(change.lowStock);
        }
        await finish(trx, req.countId, { status: 'completed', completed_at: trx.fn.now(), completed_by: req.staffId });
        await publishLowStock(trx, count.location_id, alerts);
      });
    },

    /** Cancels an open count: nothing is applied; its items may be counted again. */
    async cancelStockCount(req: { countId: string; staffId: string | null; reason: string }): Promise<void> {
      await knex.transaction(async (trx) => {
        const count = await trx('stock_counts').where('id', req.countId).forUpdate().first('status');
        if (!count || count.status !== 'open') return;
        await finish(trx, req.countId, { status: 'cancelled', cancelled_at: trx.fn.now(), cancel_reason: req.reason, completed_by: req.staffId });
      });
    },
  };
}

export async function lineRows(db: Knex | Knex.Transaction, countId: string): Promise<StockCountLineRow[]> {
  const rows = await db('stock_count_lines').where('stock_count_id', countId).orderBy('name').orderBy('item_id');
  return rows.map(toLineRow);
}

async function lineRow(db: Knex.Transaction, countId: string, itemId: string): Promise<StockCountLineRow> {
  return toLineRow(await db('stock_count_lines').where({ stock_count_id: countId, item_id: itemId }).first());
}

const toLineRow = (r: Record<string, any>): StockCountLineRow => ({
  itemId: r.item_id,
  name: r.name,
  expected: r.expected,
  counted: r.counted,
  systemAtCount: r.system_at_count,
  cost: r.cost,
  countedAt: r.counted_at ? new Date(r.counted_at).toISOString() : null,
});

export type InventoryActivities = ReturnType<typeof inventoryActivities>;
