/**
 * Stock: every change is one movement row written in the same transaction as the item's
 * quantity (under the item's row lock), so the movements always add up to the stock. Low-stock
 * alerts are kept in step in that transaction too.
 */
import type { Knex } from 'knex';
import type { StockCountLineRow } from '../core/stock-count';
import { publishLocationEvents } from './events';
import { prepared } from './prepared';

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

/** The columns movementView reads (and the batch's idempotency check): named, so their statements can be prepared. */
const MOVEMENT_COLUMNS = [
  'id',
  'item_id',
  'delta',
  'quantity_after',
  'reason',
  'reference',
  'staff_id',
  'note',
  'created_at',
  'idempotency_key',
];

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
  const [change] = await applyMovements(trx, [m]);
  if (change instanceof StockRejection) throw change;
  return change!;
}

/**
 * Applies movements as applyMovement does each, in their order, with one statement per step
 * rather than five per movement (a close of three lines: five instead of fifteen, all while it
 * holds the items' locks; issue 10). The items are locked in id order, so two batches of the same
 * items never deadlock. A movement the rules refuse is answered with its rejection and the others
 * still apply; a batch never repeats an idempotency key.
 */
export async function applyMovements(
  trx: Knex.Transaction,
  ms: MovementInput[],
  opts: { keysUnused?: boolean } = {},
): Promise<Array<StockChange | StockRejection>> {
  if (!ms.length) return [];
  const keys = ms.map((m) => m.idempotencyKey).filter((k): k is string => !!k);
  if (new Set(keys).size !== keys.length) throw new Error('a batch of stock movements repeats an idempotency key');
  const items = await lockItems(trx, ms);
  // `keysUnused`: the caller's own locks prove no movement has these keys (a close, see
  // activities/orders.ts), so the items' locks are not held for a lookup that finds nothing.
  // Were it wrong, the keys' unique index would still refuse a second movement.
  const earlier = opts.keysUnused ? new Map() : await earlierMovements(trx, keys);
  const planned = ms.map((m) => planMovement(m, items.get(m.itemId), earlier));
  const moved = planned.filter((p): p is PlannedMove => 'after' in p);
  if (!moved.length) return planned as Array<StockChange | StockRejection>;
  const changed = [...items.values()].filter((i) => i.moved);
  const rows = await writeMoves(trx, changed, moved);
  const lowStock = await raiseAlerts(trx, changed);
  let next = 0; // moved is in planned's order, and so are its rows
  const lastMoveOf = new Map(moved.map((p) => [p.m.itemId, p]));
  return planned.map((p) => {
    if (!('after' in p)) return p;
    const alert = lastMoveOf.get(p.m.itemId) === p ? lowStock.get(p.m.itemId) : undefined;
    return { movement: movementView(rows[next++]!), applied: true, ...(alert ? { lowStock: alert } : {}) };
  });
}

/**
 * The items' new quantities, their movements and the resolution of any alert an item has risen
 * out of, in one statement: a close holds its items' locks for this round trip and the receipt
 * number's only. Returns the movements' rows in the order of `moved` (Postgres returns a
 * multi-row insert's rows in the order of its values).
 */
async function writeMoves(
  trx: Knex.Transaction,
  changed: LockedItem[],
  moved: PlannedMove[],
): Promise<Record<string, any>[]> {
  // Rising above the minimum resolves the active alert (only tracked items alert). A sale can
  // meet one too: an item restocked, or its minimum lowered, since its alert was raised.
  const above = changed.filter((i) => i.track_stock && i.stock_quantity > i.min_stock).map((i) => i.id);
  const insert = trx('inventory_movements')
    .insert(moved.map((p) => movementRow(p.m, p.after)))
    .returning(MOVEMENT_COLUMNS);
  const { rows } = await prepared(
    trx.raw(
      `WITH quantities AS (
       UPDATE items SET stock_quantity = v.q, updated_at = now()
       FROM (SELECT unnest(?::uuid[]) AS id, unnest(?::int[]) AS q) v WHERE items.id = v.id
     ), resolved AS (
       UPDATE low_stock_alerts SET status = 'resolved', resolved_at = now(), resolution = 'restocked'
       WHERE item_id = ANY(?::uuid[]) AND status = 'active'
     ), moves AS (?)
     SELECT * FROM moves`,
      [changed.map((i) => i.id), changed.map((i) => i.stock_quantity), above, insert],
    ),
  );
  return rows;
}

interface LockedItem extends ItemStock {
  location_id: string;
  track_stock: boolean;
  /** Some movement of the batch took this item's stock down (its alert is raised only by a fall). */
  fell: boolean;
  moved: boolean;
}

interface PlannedMove {
  m: MovementInput;
  after: number;
}

async function lockItems(trx: Knex.Transaction, ms: MovementInput[]): Promise<Map<string, LockedItem>> {
  const rows = await prepared(
    trx('items')
      .whereIn('id', [...new Set(ms.map((m) => m.itemId))])
      .orderBy('id')
      // NO KEY UPDATE, not UPDATE: it does not wait for the key-share locks that every order line
      // insert takes on its item (foreign key), so closes of orders of the same items never deadlock.
      .forNoKeyUpdate()
      .select('id', 'location_id', 'name', 'stock_quantity', 'min_stock', 'track_stock'),
  );
  return new Map(rows.map((r) => [r.id, { ...r, fell: false, moved: false }]));
}

async function earlierMovements(trx: Knex.Transaction, keys: string[]): Promise<Map<string, Record<string, any>>> {
  if (!keys.length) return new Map();
  const rows = await prepared(trx('inventory_movements').whereIn('idempotency_key', keys).select(MOVEMENT_COLUMNS));
  return new Map(rows.map((r) => [r.idempotency_key, r]));
}

/** One movement against the item as the batch has left it so far (the rules of applyMovement). */
function planMovement(
  m: MovementInput,
  item: LockedItem | undefined,
  earlier: Map<string, Record<string, any>>,
): PlannedMove | StockChange | StockRejection {
  if (!item || item.location_id !== m.locationId)
    return new StockRejection('unknown_item', 'No such item in this location');
  const done = m.idempotencyKey ? earlier.get(m.idempotencyKey) : undefined;
  if (done) return { movement: movementView(done), applied: false };
  const after = item.stock_quantity + m.delta;
  if (after < 0 && !m.allowNegative) {
    return new StockRejection('negative', `This would leave ${after} in stock; send allowNegative: true to allow it`);
  }
  if (Math.abs(after) > INT4_MAX) return new StockRejection('out_of_range', 'The resulting stock is too large');
  Object.assign(item, { stock_quantity: after, moved: true, fell: item.fell || m.delta < 0 });
  return { m, after };
}

function movementRow(m: MovementInput, after: number) {
  return {
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
  };
}

interface ItemStock {
  id: string;
  name: string;
  stock_quantity: number;
  min_stock: number;
}

/**
 * Falling to or below the minimum raises an alert unless one is active (the partial unique index
 * keeps it to one per item); only a fall raises one, and only tracked items alert.
 */
async function raiseAlerts(trx: Knex.Transaction, items: LockedItem[]): Promise<Map<string, LowStockAlert>> {
  const tracked = items.filter((i) => i.track_stock);
  const raised = new Map<string, LowStockAlert>();
  for (const item of tracked.filter((i) => i.stock_quantity <= i.min_stock && i.fell)) {
    const { rows } = await trx.raw(
      `INSERT INTO low_stock_alerts (location_id, item_id, quantity, min_stock)
       VALUES (?, ?, ?, ?)
       ON CONFLICT (item_id) WHERE status = 'active' DO NOTHING
       RETURNING *`,
      [item.location_id, item.id, item.stock_quantity, item.min_stock],
    );
    if (!rows.length) continue;
    raised.set(item.id, {
      itemId: item.id,
      name: item.name,
      stockQuantity: item.stock_quantity,
      minStock: item.min_stock,
      alert: alertView({ ...rows[0], name: item.name }),
    });
  }
  return raised;
}

/**
 * Publishes `stock.low` for alerts raised outside an order (adjustments, counts) on the
 * location's orders topic, in the caller's transaction; the alert id makes a retry a no-op.
 */
export async function publishLowStock(
  trx: Knex.Transaction,
  locationId: string,
  alerts: LowStockAlert[],
): Promise<void> {
  await publishLocationEvents(
    trx,
    locationId,
    alerts.map((a) => ({ event: 'stock.low', data: a, dedupeKey: `stock.low:${a.alert.id}` })),
  );
}

// ---- stock count lines ---------------------------------------------------------------------

export async function lineRows(db: Knex | Knex.Transaction, countId: string): Promise<StockCountLineRow[]> {
  const rows = await db('stock_count_lines').where('stock_count_id', countId).orderBy('name').orderBy('item_id');
  return rows.map(toLineRow);
}

export async function lineRow(db: Knex.Transaction, countId: string, itemId: string): Promise<StockCountLineRow> {
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
