import type { Knex } from 'knex';
import { DatabaseError } from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { DATA_ERROR_TYPE } from '../core/messages';
import type { ActivityDeps } from './deps';
import { EVENTS_CHANNEL, type OrderEvent } from '../core/events';
import type { OrderSnapshot } from '../core/order';
import { applyMovement, StockRejection, type LowStockAlert, type MovementInput, type StockChange } from '../db/stock';

export interface PublishRequest {
  orderId: string;
  locationId: string;
  events: OrderEvent[];
  /** The order as of the newest event: kept as the live projection for lists and reconnects. */
  snapshot?: OrderSnapshot;
  /** For events without an order version (printer problems): what makes a retry a duplicate. */
  dedupeKey?: string;
}

export interface StockLine {
  lineId: string;
  itemId: string;
  quantity: number;
}

function projectionRow(s: OrderSnapshot) {
  return {
    id: s.id,
    location_id: s.locationId,
    order_number: s.orderNumber,
    status: s.status,
    kitchen_status: s.kitchenStatus,
    type: s.type,
    table_label: s.table,
    customer_name: s.customerName,
    staff_id: s.staffId,
    terminal_id: s.terminalId,
    currency: s.currency,
    subtotal: s.totals.subtotal,
    discount: s.totals.discount,
    service_charge: s.totals.serviceCharge,
    tax: s.totals.tax,
    card_fee: s.totals.cardFee,
    tip: s.totals.tip,
    total: s.totals.total,
    paid: s.totals.paid,
    refunded: s.totals.refunded,
    version: s.version,
    snapshot: JSON.stringify(s),
    cancel_reason: s.cancelReason,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
    closed_at: s.closedAt,
  };
}

/** Upserts the live projection unless a newer version is already there. */
async function upsertProjection(trx: Knex.Transaction, s: OrderSnapshot, extra: Record<string, unknown> = {}) {
  const row = { ...projectionRow(s), ...extra };
  // Strictly newer only: a repeated publish of the same version (e.g. after close) must not
  // overwrite what the closing transaction wrote.
  await trx('orders').insert(row).onConflict('id').merge().where('orders.version', '<', s.version);
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
      return knex.transaction(async (trx) => {
        const existing = await trx('order_number_assignments').where('order_id', req.orderId).first('number');
        if (existing) return existing.number as number;
        const [loc] = await trx('locations')
          .where('id', req.locationId)
          .update({ order_number_counter: knex.raw('(order_number_counter % 99) + 1') })
          .returning('order_number_counter');
        if (!loc) throw new Error(`location ${req.locationId} not found`);
        await trx('order_number_assignments').insert({ order_id: req.orderId, location_id: req.locationId, number: loc.order_number_counter });
        return loc.order_number_counter as number;
      });
    },

    /**
     * Appends events and updates the projection in one transaction, then NOTIFYs every API
     * instance with the event row ids (payloads stay tiny; listeners read the rows).
     */
    async publishOrderEvents(req: PublishRequest): Promise<void> {
      await knex.transaction(async (trx) => {
        // Several events of one name at one version (e.g. a low-stock alert per item) are told
        // apart by their place in the batch; a retried publish sends the same batch.
        const seen = new Map<string, number>();
        const rows = req.events.map((e) => {
          const base = req.dedupeKey ? `${req.dedupeKey}:${e.event}` : `${req.orderId}:${e.version}:${e.event}`;
          const n = seen.get(base) ?? 0;
          seen.set(base, n + 1);
          return {
            location_id: req.locationId,
            order_id: req.orderId,
            version: e.version,
            event: e.event,
            topics: e.topics,
            data: JSON.stringify(e.data),
            dedupe_key: n === 0 ? base : `${base}:${n}`,
          };
        });
        const inserted = rows.length ? await trx('order_events').insert(rows).onConflict('dedupe_key').ignore().returning('id') : [];
        if (req.snapshot) await upsertProjection(trx, req.snapshot);
        if (inserted.length) {
          const topics = [...new Set(req.events.flatMap((e) => e.topics))];
          const payload = JSON.stringify({ o: req.orderId, ids: inserted.map((r: { id: string | number }) => Number(r.id)), t: topics });
          await trx.raw('select pg_notify(?, ?)', [EVENTS_CHANNEL, payload]);
        }
      });
    },

    /**
     * Persists a closed or cancelled order in one idempotent transaction: the order, its lines,
     * modifiers, discounts and payments, and (closed orders) one stock movement per tracked line
     * keyed so a retry cannot deduct twice. A cancelled order reverses any movements it made.
     */
    async persistOrder(req: { snapshot: OrderSnapshot; stockLines: StockLine[] }): Promise<{ lowStock: LowStockAlert[] }> {
      const s = req.snapshot;
      return knex.transaction(async (trx) => {
        const already = await trx('orders').where('id', s.id).forUpdate().first('persisted_at');
        if (already?.persisted_at) return { lowStock: [] };
        await upsertProjection(trx, s, { persisted_at: trx.fn.now() });
        await trx('orders').where('id', s.id).update({ persisted_at: trx.fn.now() });
        for (const [position, line] of s.lines.entries()) {
          await trx('order_lines').insert({
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
          });
          if (line.modifiers.length) {
            await trx('order_line_modifiers').insert(
              line.modifiers.map((m) => ({ location_id: s.locationId, order_line_id: line.id, modifier_id: m.id, name: m.name, price: m.price })),
            );
          }
        }
        if (s.discounts.length) {
          await trx('order_discounts').insert(
            s.discounts.map((d) => ({ location_id: s.locationId, order_id: s.id, discount_id: d.id, name: d.name, type: d.type, value: d.value, amount: d.amount })),
          );
        }
        for (const [i, p] of s.payments.entries()) {
          await trx('payments')
            .insert({
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
              created_at: p.createdAt,
              settled_at: p.settledAt,
            })
            .onConflict('id')
            .merge();
        }
        // A refund settled before the checkout heard of it already wrote payments.refunded: the
        // closing write must not take such a payment's `refunded` status back.
        await trx('payments').where('order_id', s.id).where('refunded', '>', 0).whereRaw('refunded >= amount + tip + fee').update({ status: 'refunded' });
        if (s.status === 'cancelled') {
          await reverseStock(trx, s.id);
          return { lowStock: [] };
        }
        // Closed, or closed with refunds taken while it was open (partially_refunded/refunded): sold.
        return { lowStock: await deductStock(trx, s, req.stockLines) };
      });
    },

    async resolvePrinters(req: { locationId: string; role: 'kitchen' | 'receipt' }): Promise<{ id: string; name: string; address: string }[]> {
      return knex('printers').where({ location_id: req.locationId, role: req.role, enabled: true }).orderBy('name').select('id', 'name', 'address');
    },
  });
}

/** One `sale` movement per tracked line, keyed by the line so a retried close cannot deduct twice. */
async function deductStock(trx: Knex.Transaction, s: OrderSnapshot, lines: StockLine[]): Promise<LowStockAlert[]> {
  const alerts: LowStockAlert[] = [];
  for (const line of lines) {
    const change = await saleMovement(trx, {
      locationId: s.locationId,
      itemId: line.itemId,
      delta: -line.quantity,
      reason: 'sale',
      reference: s.id,
      orderId: s.id,
      staffId: s.staffId,
      idempotencyKey: `sale:${s.id}:${line.lineId}`,
      allowNegative: true, // a sale has happened: stock records it even when the shelf count was off
    });
    if (change?.lowStock) alerts.push(change.lowStock);
  }
  return alerts;
}

/** A cancelled order gives back what it sold (a reversed sale), once per sale movement. */
async function reverseStock(trx: Knex.Transaction, orderId: string): Promise<void> {
  const sales = await trx('inventory_movements').where({ order_id: orderId, reason: 'sale' }).where('delta', '<', 0);
  for (const m of sales) {
    await saleMovement(trx, {
      locationId: m.location_id,
      itemId: m.item_id,
      delta: -m.delta,
      reason: 'sale',
      reference: orderId,
      orderId,
      note: 'order cancelled: sale reversed',
      idempotencyKey: `cancel:${m.id}`,
      allowNegative: true,
    });
  }
}

/** An item deleted since it was sold has no stock to move; the order still persists. */
async function saleMovement(trx: Knex.Transaction, m: MovementInput): Promise<StockChange | undefined> {
  try {
    return await applyMovement(trx, m);
  } catch (err) {
    if (err instanceof StockRejection && err.kind === 'unknown_item') return undefined;
    throw err;
  }
}

export type OrderActivities = ReturnType<typeof orderActivities>;
