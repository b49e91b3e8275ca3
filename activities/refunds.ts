import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import type { ActivityDeps } from './deps';
import { appendEvents } from '../db/events';
import { settleLoyaltyOnRefund } from '../db/loyalty';
import { applyMovement } from '../db/stock';
import type { Gateways, RefundRequest, RefundResult, RefundStatusRequest } from '../core/gateway';
import type { GatewayKey } from '../core/payment';
import type { OrderSnapshot } from '../core/order';
import { topic } from '../core/events';
import { refundedOrderStatus, type RefundObject, type RefundStatus } from '../core/refund';
import { refundObject, type RefundLineRow } from '../db/refunds';
import { gatewayFor } from './payments/activities';

/** Gateways without idempotency keys: a sent refund's reference is recorded so a retry never sends twice. */
const NO_IDEMPOTENCY_KEYS: GatewayKey[] = ['mpesa'];

/**
 * Allocates the order's next version under a row lock on its projection row. Every writer of an
 * order outside its checkout workflow (refunds today) goes through here: the version is one more
 * than both the projection's and the last event's, so refund writes never reuse a version that was
 * already published, and two refund writes serialise on the lock. Used only once the order's
 * checkout workflow has ended: while it runs, it numbers every change itself (refunds included,
 * by signal), so there is one allocator at a time.
 */
export async function nextOrderVersion(
  trx: Knex.Transaction,
  orderId: string,
): Promise<{ version: number; snapshot: OrderSnapshot }> {
  const row = await trx('orders').where('id', orderId).forUpdate().first('version', 'snapshot');
  if (!row) throw ApplicationFailure.nonRetryable(`order ${orderId} has no projection`, 'OrderNotFound');
  const last = await trx('order_events').where('order_id', orderId).max('version as v').first();
  return {
    version: Math.max(row.version as number, Number(last?.v ?? 0)) + 1,
    snapshot: row.snapshot as OrderSnapshot,
  };
}

/** Sum of the order's succeeded refunds per payment. */
async function refundedByPayment(trx: Knex.Transaction, orderId: string): Promise<Map<string, number>> {
  const rows = await trx('refunds')
    .where({ order_id: orderId, status: 'succeeded' })
    .groupBy('payment_id')
    .select('payment_id')
    .sum('amount as total');
  return new Map(rows.map((r: any) => [r.payment_id as string, Number(r.total)]));
}

/**
 * Writes a refund's change to the order in one transaction: payments.refunded and status, the
 * projection (status, totals.refunded, each payment's refunded amount) at a freshly allocated
 * version, and `refund.updated` + `order.updated` events at that version, NOTIFYing the API replicas.
 */
async function publishRefund(trx: Knex.Transaction, refund: Record<string, any>): Promise<void> {
  const { version, snapshot } = await nextOrderVersion(trx, refund.order_id);
  // Under the order's lock: a retry (or a second writer) finds this status already on the order
  // and takes no version, so versions stay free of gaps.
  if (await trx('order_events').where('dedupe_key', refundDedupeKey(refund, 'refund.updated')).first('id')) return;
  const refunded = await recordRefundedPayments(trx, refund.order_id);
  const totalRefunded = [...refunded.values()].reduce((a, b) => a + b, 0);
  const now = new Date().toISOString();
  const next: OrderSnapshot = {
    ...snapshot,
    version,
    updatedAt: now,
    status: refundedOrderStatus(snapshot.status, snapshot.totals.paid, totalRefunded),
    totals: { ...snapshot.totals, refunded: totalRefunded },
    payments: snapshot.payments.map((p) => {
      const r = refunded.get(p.id) ?? 0;
      const full = r > 0 && r >= p.amount + p.tip + p.fee;
      return { ...p, refunded: r, ...(full ? { status: 'refunded' as const } : {}) };
    }),
  };
  await trx('orders')
    .where('id', refund.order_id)
    .update({ version, snapshot: JSON.stringify(next), status: next.status, refunded: totalRefunded, updated_at: now });
  const topics = [topic.order(refund.order_id), topic.orders(refund.location_id)];
  const events = [
    { event: 'refund.updated', data: refundObject(refund) },
    { event: 'order.updated', data: next },
  ];
  await appendEvents(
    trx,
    events.map((e) => ({
      locationId: refund.location_id,
      orderId: refund.order_id,
      version,
      topics,
      ...e,
      dedupeKey: refundDedupeKey(refund, e.event),
    })),
  );
}

const refundDedupeKey = (refund: Record<string, any>, event: string) => `refund:${refund.id}:${refund.status}:${event}`;

/** payments.refunded and status from the order's succeeded refunds (the order's money rows). */
async function recordRefundedPayments(trx: Knex.Transaction, orderId: string): Promise<Map<string, number>> {
  const refunded = await refundedByPayment(trx, orderId);
  for (const [paymentId, amount] of refunded) {
    await trx('payments')
      .where('id', paymentId)
      .update({
        refunded: amount,
        status: trx.raw("case when ? >= amount + tip + fee then 'refunded' else status end", [amount]),
      });
  }
  return refunded;
}

/**
 * Puts refunded quantities back: one `refund` movement per refund and line through applyMovement
 * (item row lock, quantity and movement together), keyed so a retry cannot restock twice (a second
 * partial refund of the same line has its own key). Untracked items are left alone, as the sale was.
 * Goods coming back always count: stock that sales took below zero stays below zero (no refusal,
 * which would fail the refund's settlement on every retry).
 */
async function restock(trx: Knex.Transaction, refund: Record<string, any>): Promise<void> {
  for (const line of refund.lines as RefundLineRow[]) {
    if (!line.itemId || line.quantity <= 0) continue;
    const item = await trx('items').where({ id: line.itemId, location_id: refund.location_id }).first('track_stock');
    if (!item?.track_stock) continue;
    await applyMovement(trx, {
      locationId: refund.location_id,
      itemId: line.itemId,
      delta: line.quantity,
      reason: 'refund',
      reference: refund.id,
      orderId: refund.order_id,
      staffId: refund.staff_id,
      note: `refund ${refund.id}`,
      idempotencyKey: `refund:${refund.id}:${line.lineId}`,
      allowNegative: true,
    });
  }
}

/** What the gateway's refund takes, and which refund and gateway it is for. */
interface SendRefundRequest extends RefundRequest {
  refundId: string;
  gateway: GatewayKey;
}

/** Sends the refund to the gateway with the refund workflow's idempotency key. */
async function sendRefund(knex: Knex, gateways: Gateways, req: SendRefundRequest): Promise<RefundResult> {
  const noKeys = NO_IDEMPOTENCY_KEYS.includes(req.gateway);
  if (noKeys) {
    const sent = await knex('refunds').where('id', req.refundId).first('reference', 'status_reference');
    if (sent?.reference)
      return {
        status: 'pending',
        reference: sent.reference,
        ...(sent.status_reference ? { statusReference: sent.status_reference } : {}),
      };
  }
  const result = await gatewayFor(gateways, req.gateway).refund(req);
  if (noKeys && result.reference)
    await knex('refunds')
      .where('id', req.refundId)
      .update({ reference: result.reference, status_reference: result.statusReference ?? null });
  return result;
}

interface SettleRefundRequest {
  refundId: string;
  status: Exclude<RefundStatus, 'pending'>;
  reference?: string;
  failureReason?: string;
  tellOrder?: boolean;
}

/**
 * Settles the refund once (a retry finds it settled and changes nothing), restocks and records
 * the refunded amounts on the payment rows. Returns the refund as settled (also on a retry), for
 * the workflow to tell the order; without `tellOrder: false` it tells the order in Postgres.
 */
async function settleRefund(knex: Knex, req: SettleRefundRequest): Promise<RefundObject | undefined> {
  return knex.transaction(async (trx) => {
    const current = await trx('refunds').where('id', req.refundId).forUpdate().first();
    if (!current) return undefined;
    if (current.status !== 'pending') return refundObject(current);
    const [refund] = await trx('refunds')
      .where('id', req.refundId)
      .update({
        status: req.status,
        ...(req.reference ? { reference: req.reference } : {}),
        failure_reason: req.failureReason ?? null,
        settled_at: trx.fn.now(),
        updated_at: trx.fn.now(),
      })
      .returning('*');
    if (req.status === 'succeeded' && refund.restock) await restock(trx, refund);
    if (req.status === 'succeeded') await settleLoyaltyOnRefund(trx, refund); // points back / earned points taken back, once
    if (req.tellOrder !== false) await publishRefund(trx, refund);
    else await recordRefundedPayments(trx, refund.order_id);
    return refundObject(refund);
  });
}

export function refundActivities({ knex, gateways = {} }: ActivityDeps) {
  return {
    sendRefund: (req: SendRefundRequest) => sendRefund(knex, gateways, req),

    /**
     * Asks a gateway that answers asynchronously (M-Pesa Transaction Status) to post where a
     * refund stands to its result URL. Gateways without such a request do nothing.
     */
    async requestRefundStatus(req: { gateway: GatewayKey } & RefundStatusRequest): Promise<void> {
      const g = gatewayFor(gateways, req.gateway);
      await g.requestRefundStatus?.({
        reference: req.reference,
        statusReference: req.statusReference,
        resultUrl: req.resultUrl,
      });
    },

    /** Asks the gateway where a pending refund stands; gateways that cannot say report pending. */
    async refundStatus(req: { gateway: GatewayKey; reference: string }): Promise<RefundResult> {
      Context.current().heartbeat();
      const g = gatewayFor(gateways, req.gateway);
      return g.refundStatus
        ? g.refundStatus({ reference: req.reference })
        : { status: 'pending', reference: req.reference };
    },

    /**
     * The gateway accepted the refund but has not finished it: record its reference. With
     * `tellOrder: false` the refund workflow tells the order itself (see tellOrder there).
     */
    async markRefundPending(req: {
      refundId: string;
      reference?: string;
      tellOrder?: boolean;
    }): Promise<RefundObject | undefined> {
      return knex.transaction(async (trx) => {
        const [refund] = await trx('refunds')
          .where({ id: req.refundId, status: 'pending' })
          .update({ reference: req.reference ?? null, updated_at: trx.fn.now() })
          .returning('*');
        if (refund && req.tellOrder !== false) await publishRefund(trx, refund);
        return refund ? refundObject(refund) : undefined;
      });
    },

    settleRefund: (req: SettleRefundRequest) => settleRefund(knex, req),

    /**
     * The order's checkout has ended: the refund's change goes on the order in Postgres, at the
     * version `nextOrderVersion` allocates (once per refund and status).
     */
    async recordRefundOnOrder(req: { refundId: string; status: RefundStatus }): Promise<void> {
      await knex.transaction(async (trx) => {
        const refund = await trx('refunds').where({ id: req.refundId, status: req.status }).first();
        if (refund) await publishRefund(trx, refund);
      });
    },
  };
}

export type RefundActivities = ReturnType<typeof refundActivities>;
