/** Stock-count activities: open, record and apply a count (movements and alerts live in db/stock.ts). */
import type { Knex } from 'knex';
import type { StockCountLineRow } from '../core/stock-count';
import { applyMovement, lineRow, publishLowStock, type LowStockAlert } from '../db/stock';

// ---- stock counts ----------------------------------------------------------------------------

export interface OpenStockCountRequest {
  countId: string;
  locationId: string;
  staffId: string;
  categoryId?: string | null;
  itemIds?: string[] | null;
}
export type OpenStockCountResult =
  { ok: true; itemIds: string[] } | { ok: false; kind: 'empty' | 'overlap'; message: string };

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

/**
 * Writes the count and each item's expected quantity (its stock now), once: a retry finds the
 * count already there. An item may be in one open count at a time (else its variance would be
 * applied twice), which the partial unique index enforces.
 */
async function openStockCount(knex: Knex, req: OpenStockCountRequest): Promise<OpenStockCountResult> {
  try {
    return await knex.transaction(async (trx) => {
      const existing = await trx('stock_count_lines').where('stock_count_id', req.countId).pluck('item_id');
      if (existing.length) return { ok: true as const, itemIds: existing };
      const items = await countableItems(trx, req);
      if (!items.length)
        return { ok: false as const, kind: 'empty' as const, message: 'No stock-tracked items to count' };
      await trx('stock_counts').insert({
        id: req.countId,
        location_id: req.locationId,
        category_id: req.categoryId ?? null,
        status: 'open',
        staff_id: req.staffId,
      });
      await trx('stock_count_lines').insert(
        items.map((i) => ({
          location_id: req.locationId,
          stock_count_id: req.countId,
          item_id: i.id,
          name: i.name,
          cost: i.cost,
          expected: i.stock_quantity,
        })),
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
}

/**
 * Applies every counted line as one `count` movement (counted − stock when counted) and marks
 * the count completed, in one transaction; a retry finds it completed and applies nothing.
 */
async function applyStockCount(knex: Knex, req: { countId: string; staffId: string }): Promise<void> {
  await knex.transaction(async (trx) => {
    const count = await trx('stock_counts').where('id', req.countId).forUpdate().first('status', 'location_id');
    if (!count || count.status !== 'open') return;
    const lines = await trx('stock_count_lines')
      .where('stock_count_id', req.countId)
      .whereNotNull('counted')
      .orderBy('item_id');
    const alerts: LowStockAlert[] = [];
    for (const line of lines) {
      const delta = line.counted - line.system_at_count;
      await trx('stock_count_lines')
        .where({ stock_count_id: req.countId, item_id: line.item_id })
        .update({ applied_delta: delta });
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
}

export function inventoryActivities({ knex }: { knex: Knex }) {
  return {
    openStockCount: (req: OpenStockCountRequest) => openStockCount(knex, req),

    /**
     * Records a count and, under the item's row lock, its stock at this moment: completing the
     * count applies `counted − that`, so sales between counting and completing stay deducted.
     */
    async recordStockCount(req: RecordStockCountRequest): Promise<StockCountLineRow> {
      return knex.transaction(async (trx) => {
        const item = await trx('items')
          .where({ id: req.itemId, location_id: req.locationId })
          .forUpdate()
          .first('stock_quantity');
        await trx('stock_count_lines')
          .where({ stock_count_id: req.countId, item_id: req.itemId, active: true })
          .where('count_seq', '<', req.seq)
          .update({
            counted: req.counted,
            system_at_count: item?.stock_quantity ?? 0,
            counted_at: trx.fn.now(),
            counted_by: req.staffId,
            count_seq: req.seq,
          });
        return lineRow(trx, req.countId, req.itemId);
      });
    },

    applyStockCount: (req: { countId: string; staffId: string }) => applyStockCount(knex, req),

    /** Cancels an open count: nothing is applied; its items may be counted again. */
    async cancelStockCount(req: { countId: string; staffId: string | null; reason: string }): Promise<void> {
      await knex.transaction(async (trx) => {
        const count = await trx('stock_counts').where('id', req.countId).forUpdate().first('status');
        if (!count || count.status !== 'open') return;
        await finish(trx, req.countId, {
          status: 'cancelled',
          cancelled_at: trx.fn.now(),
          cancel_reason: req.reason,
          completed_by: req.staffId,
        });
      });
    },
  };
}

export type InventoryActivities = ReturnType<typeof inventoryActivities>;
