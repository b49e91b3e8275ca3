import * as yup from 'yup';
import type { Knex } from 'knex';
import { instant, parseInstant } from '../paging';
import { json, route, MANAGER } from '../route';
import { ref as component } from '../openapi-schemas';
import { conflict, fieldError, notFound } from '../errors';
import { idempotencyKey } from '../idempotency';
import { idParams, int4, noUnknown, uuid, text } from '../validation';
import {
  alertView,
  applyMovement,
  movementView,
  publishLowStock,
  StockRejection,
  type MovementInput,
  type StockChange,
} from '../../db/stock';

const TAG = 'Inventory';
const BASE = '/api/v1/inventory';

const flag = () => yup.boolean().typeError('${path} must be true or false');
const REASONS = ['sale', 'refund', 'adjustment', 'receive', 'count'] as const;

/** The movements cursor is the last row's insertion sequence number, opaque to clients. */
const encodeCursor = (seq: string | number) => Buffer.from(`m:${seq}`).toString('base64url');
function decodeCursor(cursor: string): string {
  const m = /^m:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw fieldError('query.cursor', 'cursor is not one this API gave out');
  return m[1]!;
}

const adjustmentBody = noUnknown(
  yup.object({
    itemId: uuid().required(),
    delta: int4()
      .required()
      .test('non-zero', '${path} must not be 0', (v) => v !== 0)
      .meta({ jsonSchema: { not: { const: 0 } } }),
    reason: yup
      .string()
      .strict()
      .oneOf(['adjustment', 'receive'] as const)
      .required(),
    note: text(500).nullable(),
    allowNegative: yup.boolean().strict().default(false),
  }),
);

/** Maps a refused stock change to the contract's errors. */
function stockError(err: unknown): never {
  if (err instanceof StockRejection) {
    if (err.kind === 'negative') throw conflict(err.message);
    throw fieldError(err.kind === 'out_of_range' ? 'delta' : 'itemId', err.message);
  }
  throw err;
}

const isDuplicateKey = (err: unknown) => {
  const e = ((err as { nativeError?: unknown }).nativeError ?? err) as { code?: string; constraint?: string };
  return e?.code === '23505' && e.constraint === 'inventory_movements_idempotency_key_unique';
};

/**
 * Applies a manual movement and publishes any alert it raised. Two requests with one key race
 * on the key's unique index at worst; the loser runs again and finds the winner's movement.
 */
async function adjust(knex: Knex, m: MovementInput): Promise<StockChange> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await knex.transaction(async (trx) => {
        const item = await trx('items')
          .where({ id: m.itemId, location_id: m.locationId })
          .whereNull('deleted_at')
          .first('track_stock');
        if (!item) throw new StockRejection('unknown_item', 'No such item in this location');
        if (!item.track_stock) throw new StockRejection('not_tracked', 'This item does not track stock');
        const change = await applyMovement(trx, m);
        await publishLowStock(trx, m.locationId, change.lowStock ? [change.lowStock] : []);
        return change;
      });
    } catch (err) {
      if (attempt === 0 && isDuplicateKey(err)) continue;
      return stockError(err);
    }
  }
}

const listStock = route({
  method: 'get',
  path: BASE,
  summary: 'Stock-tracked items with quantity, minimum and value at cost (value = quantity × cost)',
  tag: TAG,
  roles: MANAGER,
  query: noUnknown(yup.object({ lowStock: flag(), categoryId: uuid() })),
  responses: {
    200: json(
      '{items: [{itemId, name, sku, quantity, minStock, lowStock, cost, value}], totalValue}',
      component('Inventory'),
    ),
  },
  handler: async ({ query, auth, deps }) => {
    const q = deps.knex('items').where({ location_id: auth.locationId, track_stock: true }).whereNull('deleted_at');
    if (query.categoryId) q.where('category_id', query.categoryId);
    if (query.lowStock === true) q.whereRaw('stock_quantity <= min_stock');
    if (query.lowStock === false) q.whereRaw('stock_quantity > min_stock');
    const rows = await q.orderBy(['name', 'id']).select('id', 'name', 'sku', 'stock_quantity', 'min_stock', 'cost');
    const items = rows.map((i) => ({
      itemId: i.id,
      name: i.name,
      sku: i.sku,
      quantity: i.stock_quantity,
      minStock: i.min_stock,
      lowStock: i.stock_quantity <= i.min_stock,
      cost: i.cost,
      value: i.stock_quantity * (i.cost ?? 0),
    }));
    return { items, totalValue: items.reduce((sum, i) => sum + i.value, 0) };
  },
});

const listMovements = route({
  method: 'get',
  path: `${BASE}/movements`,
  summary: 'Stock movements, newest first (cursor pagination; start inclusive, end exclusive)',
  tag: TAG,
  roles: MANAGER,
  query: noUnknown(
    yup.object({
      itemId: uuid(),
      reason: yup.string().oneOf(REASONS),
      start: instant(),
      end: instant(),
      limit: yup.number().typeError('${path} must be a number').integer().min(1).max(500).default(100),
      cursor: yup.string().max(100),
    }),
  ),
  responses: {
    200: json(
      '{movements: [{id, itemId, delta, quantityAfter, reason, reference, staffId, note, createdAt}], nextCursor}',
      component('MovementPage'),
    ),
  },
  handler: async ({ query, auth, deps }) => {
    const q = deps.knex('inventory_movements').where('location_id', auth.locationId);
    if (query.itemId) q.where('item_id', query.itemId);
    if (query.reason) q.where('reason', query.reason);
    if (query.start) q.where('created_at', '>=', parseInstant(query.start));
    if (query.end) q.where('created_at', '<', parseInstant(query.end));
    if (query.cursor) q.where('seq', '<', decodeCursor(query.cursor));
    const rows = await q.orderBy('seq', 'desc').limit(query.limit + 1);
    const page = rows.slice(0, query.limit);
    return {
      movements: page.map(movementView),
      nextCursor: rows.length > query.limit ? encodeCursor(page.at(-1)!.seq) : null,
    };
  },
});

const adjustStock = route({
  method: 'post',
  path: `${BASE}/adjustments`,
  summary:
    'Adjust or receive stock (one movement). A repeat with the same Idempotency-Key returns the first movement and changes nothing.',
  tag: TAG,
  roles: MANAGER,
  body: adjustmentBody,
  responses: { 201: json('Movement', component('Movement')) },
  errors: [409],
  handler: async ({ body, auth, deps, ctx }) => {
    const key = idempotencyKey(ctx);
    const change = await adjust(deps.knex, {
      locationId: auth.locationId,
      itemId: body.itemId,
      delta: body.delta,
      reason: body.reason,
      staffId: auth.staffId,
      note: body.note ?? null,
      allowNegative: body.allowNegative,
      idempotencyKey: key ? `adjustment:${auth.locationId}:${key}` : null,
    });
    ctx.status = 201;
    return change.movement;
  },
});

const listAlerts = route({
  method: 'get',
  path: `${BASE}/alerts`,
  summary: 'Low-stock alerts, newest first',
  tag: TAG,
  roles: MANAGER,
  query: noUnknown(yup.object({ status: yup.string().oneOf(['active', 'resolved'] as const) })),
  responses: {
    200: json(
      '{alerts: [{id, itemId, name, status, quantity, minStock, createdAt, resolvedAt, resolvedBy, resolution}]}',
      component('AlertList'),
    ),
  },
  handler: async ({ query, auth, deps }) => {
    const q = deps
      .knex('low_stock_alerts as a')
      .join('items as i', 'i.id', 'a.item_id')
      .where('a.location_id', auth.locationId);
    if (query.status) q.where('a.status', query.status);
    const rows = await q
      .orderBy([
        { column: 'a.created_at', order: 'desc' },
        { column: 'a.id', order: 'desc' },
      ])
      .limit(500)
      .select('a.*', 'i.name');
    return { alerts: rows.map(alertView) };
  },
});

const resolveAlert = route({
  method: 'post',
  path: `${BASE}/alerts/:id/resolve`,
  summary: 'Resolve a low-stock alert by hand (the next fall to or below the minimum raises a new one)',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  responses: { 200: json('Alert', component('Alert')) },
  errors: [409],
  handler: async ({ params, auth, deps }) => {
    const [row] = await deps
      .knex('low_stock_alerts')
      .where({ id: params.id, location_id: auth.locationId, status: 'active' })
      .update({
        status: 'resolved',
        resolved_at: deps.knex.fn.now(),
        resolved_by: auth.staffId,
        resolution: 'manual',
      })
      .returning('*');
    if (row) return alertView(row);
    const existing = await deps
      .knex('low_stock_alerts')
      .where({ id: params.id, location_id: auth.locationId })
      .first('status');
    if (!existing) throw notFound('Alert');
    throw conflict('Alert is already resolved');
  },
});

export function inventoryRoutes() {
  return [listStock, listMovements, adjustStock, listAlerts, resolveAlert];
}
