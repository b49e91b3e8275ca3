import type { Knex } from 'knex';
import { DatabaseError } from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { DATA_ERROR_TYPE } from '../core/failures';
import type { ActivityDeps } from './deps';
import { topic, type OrderEvent } from '../core/events';
import type { OrderSnapshot } from '../core/order';
import { assignOrderNumber } from '../db/order-numbers';
import { projectionUpsert, writeOrderEvents, type PublishRequest } from '../db/order-events';
import { claimRelease, publishReleased } from '../db/floor';
import { earnPoints } from '../db/loyalty';
import { applyMovements, StockRejection, type LowStockAlert } from '../db/stock';
import type { RoutedPrinter } from './printing/stations';
import { assignReceiptNumber } from '../db/receipt-numbers';
import { prepared } from '../db/prepared';

export interface StockLine {
  lineId: string;
  itemId: string;
  quantity: number;
}

/**
 * Integrity errors a retry can cure: a concurrent insert of the same key (the retry then finds
 * the row). Every other class 23 error, and every class 22 data exception (e.g. 22003, a number
 * out of range), fails the same way on every attempt.
 */
const RETRYABLE_INTEGRITY_ERRORS = new Set(['23505', '23P01']);

function isPermanentDataError(err: unknown): err is DatabaseError {
  if (!(err instanceof DatabaseError) || !err.code) return false;
  return err.code.startsWith('22') || (err.code.startsWith('23') && !RETRYABLE_INTEGRITY_ERRORS.has(err.code));
}

/** Makes a permanent data error a typed, non-retryable failure the workflow can report (not an endless retry). */
function failingForGoodOnDataErrors<T extends Record<string, (...args: any[]) => Promise<unknown>>>(activities: T): T {
  const wrapped = Object.entries(activities).map(([name, fn]) => [
    name,
    async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        if (!isPermanentDataError(err)) throw err;
        throw ApplicationFailure.create({
          type: DATA_ERROR_TYPE,
          message: `${name}: Postgres refused the data (SQLSTATE ${err.code}): ${err.message}`,
          details: [{ sqlState: err.code }],
          nonRetryable: true,
          cause: err,
        });
      }
    },
  ]);
  return Object.fromEntries(wrapped) as T;
}

export function orderActivities({ knex }: ActivityDeps) {
  return failingForGoodOnDataErrors({
    /**
     * Order numbers run 1..99 per location and wrap. Idempotent per order: a retried activity
     * (or a replayed start) gets the number it was given the first time.
     */
    async assignOrderNumber(req: { orderId: string; locationId: string }): Promise<number> {
      return assignOrderNumber(knex, req.orderId, req.locationId);
    },

    async publishOrderEvents(req: PublishRequest): Promise<void> {
      await writeOrderEvents(knex, req); // one statement: atomic on its own
    },

    /** Persists a closed or cancelled order once (see persistInTransaction), with its pending events. */
    async persistOrder(req: PersistRequest): Promise<Persisted> {
      const s = req.snapshot;
      return knex.transaction(async (trx) => {
        // Newer checkouts hand over their unpublished events: they become durable with the order
        // itself, saving a publishing activity. First: the API may be publishing the same batch
        // (events, then the projection's row), so the close too takes the event keys before the
        // order row, or each would wait for the other.
        if (req.events?.length)
          await writeOrderEvents(trx, { orderId: s.id, locationId: s.locationId, events: req.events });
        const persisted = await persistInTransaction(trx, req);
        if (req.events) await writeOrderEvents(trx, lowStockBatch(s, persisted.lowStock));
        return persisted;
      });
    },

    async resolvePrinters(req: { locationId: string; role: 'kitchen' | 'receipt' }): Promise<RoutedPrinter[]> {
      return knex('printers')
        .where({ location_id: req.locationId, role: req.role, enabled: true })
        .orderBy('name')
        .select('id', 'name', 'address', 'category_ids as categoryIds', 'backup_printer_id as backupPrinterId');
    },
  });
}

/**
 * One `sale` movement per tracked line, keyed by the line so a retried close cannot deduct twice.
 * An item deleted since it was sold has no stock to move; the order still persists. Only a close
 * writes sale keys, in the transaction that marks its order persisted, and this one holds the
 * order's lock and found it unmarked: no movement has these keys yet.
 */
async function deductStock(trx: Knex.Transaction, s: OrderSnapshot, lines: StockLine[]): Promise<LowStockAlert[]> {
  const changes = await applyMovements(
    trx,
    lines.map((line) => ({
      locationId: s.locationId,
      itemId: line.itemId,
      delta: -line.quantity,
      reason: 'sale' as const,
      reference: s.id,
      orderId: s.id,
      staffId: s.staffId,
      idempotencyKey: `sale:${s.id}:${line.lineId}`,
      allowNegative: true, // a sale has happened: stock records it even when the shelf count was off
    })),
    { keysUnused: true },
  );
  const alerts: LowStockAlert[] = [];
  for (const change of changes) {
    if (change instanceof StockRejection) {
      if (change.kind === 'unknown_item') continue;
      throw change;
    }
    if (change.lowStock) alerts.push(change.lowStock);
  }
  return alerts;
}

export type OrderActivities = ReturnType<typeof orderActivities>;

export interface PersistRequest {
  snapshot: OrderSnapshot;
  stockLines: StockLine[];
  /** Events the checkout has not published yet (newer runs only): written with the order. */
  events?: OrderEvent[];
}

/** One stock.low per item the sale took low, at the closing version (its keys are the close's alone). */
function lowStockBatch(s: OrderSnapshot, lowStock: LowStockAlert[]): PublishRequest {
  const alerts: OrderEvent[] = lowStock.map((item) => ({
    event: 'stock.low',
    topics: [topic.orders(s.locationId)],
    data: item,
    version: s.version,
  }));
  return { orderId: s.id, locationId: s.locationId, events: alerts };
}

/** What a close wrote: the low-stock alerts it raised and (sold orders) the receipt number it gave. */
export interface Persisted {
  lowStock: LowStockAlert[];
  receiptNumber?: number;
}

/**
 * Persists a closed or cancelled order in one idempotent transaction: the order, its lines,
 * modifiers, discounts and payments, and (sold orders) points, one stock movement per tracked
 * line keyed so a retry cannot deduct twice, and a receipt number. A cancelled order took no
 * stock, so it has none to give back. Returns the items the sale took low (none on a repeat).
 */
async function persistInTransaction(trx: Knex.Transaction, req: PersistRequest): Promise<Persisted> {
  const s = req.snapshot;
  const already = await markPersisted(trx, s.id);
  // A retry after a lost answer: the close happened, with the receipt number it gave (and the
  // release of its table).
  if (already?.persisted_at)
    return { lowStock: [], ...(already.receipt_number !== null ? { receiptNumber: already.receipt_number } : {}) };
  const released = await writeOrderRows(trx, s);
  // No row when locked, but the API's write of this same version may have landed since: the
  // upsert then changed nothing (not newer), so the mark is set here.
  if (!already) await trx('orders').where('id', s.id).whereNull('persisted_at').update({ persisted_at: trx.fn.now() });
  await publishReleased(trx, released); // its table is free once it closed or was cancelled
  // Stock leaves only when an order closes, and a closed order is never cancelled: a
  // cancelled order has nothing to give back (refunds restock what they return).
  if (s.status === 'cancelled') return { lowStock: [] };
  // Closed, or closed with refunds taken while it was open (partially_refunded/refunded): sold.
  await earnPoints(trx, s); // once per order (keyed), like everything in this transaction
  const lowStock = await deductStock(trx, s, req.stockLines);
  // Last: the location row is every close's (and every new order number's) hot row, so its lock
  // is held only for the commit (and the low-stock alerts, when there are any).
  const receiptNumber = await assignReceiptNumber(trx, s.id, s.locationId);
  return { lowStock, receiptNumber };
}

/**
 * The order's own rows in one statement: the projection (a row the API never wrote, or an older
 * one), marked persisted; its lines, modifiers, discounts and payments; and the release of its
 * table, whose claim this returns. They were six round trips, and on a busy till each costs the
 * waiting cashier ~5 ms (issue 10). Postgres checks the foreign keys (a modifier's line, a line's
 * order) and runs the report rollups' statement triggers at the end of the statement, when every
 * row of it is there.
 */
async function writeOrderRows(
  trx: Knex.Transaction,
  s: OrderSnapshot,
): Promise<Array<{ table_id: string; location_id: string }>> {
  const parts = [
    projectionUpsert(trx, s, { persisted_at: trx.fn.now() }),
    insertRows(trx, 'order_lines', lineRows(s)),
    insertRows(trx, 'order_line_modifiers', modifierRows(s)),
    insertRows(trx, 'order_discounts', discountRows(s)),
    mergePayments(trx, s),
  ].filter((q) => q !== undefined);
  const { rows } = await prepared(
    trx.raw(
      `WITH ${parts.map((_, i) => `w${i} AS (?)`).join(', ')}, released AS (?) SELECT table_id, location_id FROM released`,
      [...parts, claimRelease(trx, s.id)],
    ),
  );
  return rows;
}

/**
 * Inserts rows of one table from one JSON array: the statement's text is the same whatever the
 * order holds, so it stays one prepared statement. Undefined values are left out (NULL).
 */
function insertRows(trx: Knex.Transaction, table: string, rows: Array<Record<string, unknown>>): Knex.Raw | undefined {
  if (!rows.length) return undefined;
  const columns = Object.keys(rows[0]!);
  const list = columns.map(() => '??').join(', ');
  return trx.raw(`INSERT INTO ?? (${list}) SELECT ${list} FROM jsonb_populate_recordset(null::??, ?::jsonb)`, [
    table,
    ...columns,
    ...columns,
    table,
    JSON.stringify(rows),
  ]);
}

/**
 * Locks the order's row and marks it persisted, in one statement; returns the row as it was
 * (undefined when the API's projection write never landed: the upsert then inserts it, marked).
 */
async function markPersisted(
  trx: Knex.Transaction,
  orderId: string,
): Promise<{ persisted_at: Date | null; receipt_number: number | null } | undefined> {
  const { rows } = await prepared(
    trx.raw(
      `UPDATE orders o SET persisted_at = coalesce(was.persisted_at, now())
     FROM (SELECT id, persisted_at, receipt_number FROM orders WHERE id = ? FOR UPDATE) was
     WHERE o.id = was.id
     RETURNING was.persisted_at, was.receipt_number`,
      [orderId],
    ),
  );
  return rows[0];
}

/**
 * The order's payments as the snapshot has them. A refund settled before the checkout heard of
 * it already wrote payments.refunded: the closing write must not take such a payment's
 * `refunded` status back.
 */
function mergePayments(trx: Knex.Transaction, s: OrderSnapshot): Knex.Raw | undefined {
  const rows = s.payments.map((p, i) => paymentRow(s, p, i));
  const insert = insertRows(trx, 'payments', rows);
  if (!insert) return undefined;
  const { id: _id, status: _status, ...columns } = rows[0]!;
  const merged = Object.keys(columns).map((c) => trx.raw('?? = excluded.??', [c, c]));
  return trx.raw(
    `? ON CONFLICT (id) DO UPDATE SET ${merged.map(() => '?').join(', ')},
       status = CASE WHEN payments.refunded > 0 AND payments.refunded >= excluded.amount + excluded.tip + excluded.fee
         THEN 'refunded' ELSE excluded.status END`,
    [insert, ...merged],
  );
}

const lineRows = (s: OrderSnapshot) =>
  s.lines.map((line, position) => ({
    id: line.id,
    location_id: s.locationId,
    order_id: s.id,
    item_id: line.itemId,
    name: line.name,
    quantity: line.quantity,
    unit_price: line.unitPrice,
    total: line.total,
    note: line.note,
    position,
  }));

const modifierRows = (s: OrderSnapshot) =>
  s.lines.flatMap((line) =>
    line.modifiers.map((m) => ({
      location_id: s.locationId,
      order_line_id: line.id,
      modifier_id: m.id,
      name: m.name,
      price: m.price,
    })),
  );

const discountRows = (s: OrderSnapshot) =>
  s.discounts.map((d) => ({
    location_id: s.locationId,
    order_id: s.id,
    discount_id: d.id,
    name: d.name,
    type: d.type,
    value: d.value,
    amount: d.amount,
  }));

function paymentRow(s: OrderSnapshot, p: OrderSnapshot['payments'][number], i: number) {
  return {
    id: p.id,
    location_id: s.locationId,
    order_id: s.id,
    seq: i + 1,
    method: p.method,
    provider: p.provider,
    status: p.status,
    amount: p.amount,
    tip: p.tip,
    fee: p.fee,
    tendered: p.tendered ?? null,
    change: p.change ?? null,
    reference: p.reference ?? null,
    failure_reason: p.failureReason ?? null,
    sandbox: p.sandbox ?? false,
    terminal_id: p.terminalId ?? null,
    created_at: p.createdAt,
    settled_at: p.settledAt,
  };
}
