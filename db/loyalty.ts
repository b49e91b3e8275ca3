/**
 * The loyalty ledger. The balance lives on the customer row (CHECK >= 0) and every change is one
 * keyed ledger row written in the same transaction, so a retried activity or request changes
 * nothing twice, and a debit that would overdraw is refused by one conditional UPDATE (two
 * terminals redeeming at once: the second finds the points gone).
 */
import type { Knex } from 'knex';
import { pointsEarned, pointsReturned, pointsToTakeBack, type LoyaltySettings } from '../core/loyalty';
import type { OrderSnapshot } from '../core/order';

type Trx = Knex.Transaction;

export interface LedgerEntry {
  kind: 'earn' | 'redeem' | 'refund' | 'return' | 'adjust';
  points: number;
  shortfall?: number;
  basis?: number;
  orderId?: string | null;
  paymentId?: string | null;
  refundId?: string | null;
  staffId?: string | null;
  reason?: string | null;
  key: string;
}

export async function loyaltySettings(db: Knex | Trx, locationId: string): Promise<LoyaltySettings> {
  const loc = await db('locations')
    .where('id', locationId)
    .first('loyalty_enabled', 'loyalty_points_per100', 'loyalty_point_value');
  return {
    enabled: Boolean(loc?.loyalty_enabled),
    pointsPer100: loc?.loyalty_points_per100 ?? 0,
    pointValue: loc?.loyalty_point_value ?? 0,
  };
}

/**
 * Applies one ledger entry to a customer's balance. False when the entry's key was applied
 * before (nothing changes) or when a debit would take the balance below zero (nothing written).
 */
export async function applyLedgerEntry(
  trx: Trx,
  locationId: string,
  customerId: string,
  e: LedgerEntry,
): Promise<boolean> {
  if (await trx('loyalty_ledger').where('key', e.key).first('id')) return false;
  const updated = await trx('customers')
    .where({ id: customerId, location_id: locationId })
    .where('loyalty_points', '>=', -Math.min(e.points, 0))
    .whereRaw('loyalty_points::bigint + ? <= 2147483647', [e.points]) // and never past its column
    .update({ loyalty_points: trx.raw('loyalty_points + ?', [e.points]), updated_at: trx.fn.now() })
    .returning('id');
  if (!updated.length) return false;
  await trx('loyalty_ledger').insert({
    location_id: locationId,
    customer_id: customerId,
    kind: e.kind,
    points: e.points,
    shortfall: e.shortfall ?? 0,
    basis: e.basis ?? null,
    order_id: e.orderId ?? null,
    payment_id: e.paymentId ?? null,
    refund_id: e.refundId ?? null,
    staff_id: e.staffId ?? null,
    reason: e.reason ?? null,
    key: e.key,
  });
  return true;
}

/** At close: the order's customer earns points on its net, once per order (keyed by the order). */
export async function earnPoints(trx: Trx, s: OrderSnapshot): Promise<void> {
  if (!s.customerId) return;
  const net = s.totals.subtotal - s.totals.discount;
  const points = pointsEarned(net, await loyaltySettings(trx, s.locationId));
  if (points <= 0) return;
  await applyLedgerEntry(trx, s.locationId, s.customerId, {
    kind: 'earn',
    points,
    basis: net,
    orderId: s.id,
    key: `earn:${s.id}`,
  });
}

/**
 * A refund succeeded: a points payment gets its points back, and the order's earned points are
 * taken back in proportion to what has been refunded so far, capped at the current balance (what
 * could not be taken is the ledger row's shortfall). Once per refund.
 */
export async function settleLoyaltyOnRefund(
  trx: Trx,
  refund: { id: string; order_id: string; payment_id: string; amount: number; location_id: string },
): Promise<void> {
  const redeemed = await trx('loyalty_ledger').where({ payment_id: refund.payment_id, kind: 'redeem' }).first();
  if (redeemed) {
    const refundedSoFar = await succeededRefunds(trx, { payment_id: refund.payment_id });
    const returned = await trx('loyalty_ledger')
      .where({ payment_id: refund.payment_id, kind: 'return' })
      .sum('points as n')
      .first();
    const due = pointsReturned(-redeemed.points, redeemed.basis, refundedSoFar) - Number(returned?.n ?? 0);
    if (due > 0)
      await applyLedgerEntry(trx, refund.location_id, redeemed.customer_id, {
        kind: 'return',
        points: due,
        orderId: refund.order_id,
        paymentId: refund.payment_id,
        refundId: refund.id,
        key: `return:${refund.id}`,
      });
  }
  const earned = await trx('loyalty_ledger')
    .where({ key: `earn:${refund.order_id}` })
    .first();
  if (!earned) return;
  const order = await trx('orders').where('id', refund.order_id).first('total');
  const taken = await trx('loyalty_ledger')
    .where({ order_id: refund.order_id, kind: 'refund' })
    .select(trx.raw('coalesce(sum(shortfall - points), 0) as n'))
    .first();
  const due =
    pointsToTakeBack(earned.points, order?.total ?? 0, await succeededRefunds(trx, { order_id: refund.order_id })) -
    Number(taken?.n ?? 0);
  if (due <= 0) return;
  const customer = await trx('customers').where('id', earned.customer_id).forUpdate().first('loyalty_points');
  if (!customer) return;
  const take = Math.min(due, customer.loyalty_points);
  await applyLedgerEntry(trx, refund.location_id, earned.customer_id, {
    kind: 'refund',
    points: -take,
    shortfall: due - take,
    orderId: refund.order_id,
    refundId: refund.id,
    key: `refund:${refund.id}`,
  });
}

async function succeededRefunds(trx: Trx, where: Record<string, string>): Promise<number> {
  const row = await trx('refunds')
    .where({ ...where, status: 'succeeded' })
    .sum('amount as n')
    .first();
  return Number(row?.n ?? 0);
}

export interface RedeemRequest {
  locationId: string;
  customerId: string;
  orderId: string;
  paymentId: string;
  points: number;
  amount: number;
}

/** Debits a points payment, once per payment. False: not enough points (nothing written). */
export async function redeemPoints(knex: Knex, r: RedeemRequest): Promise<boolean> {
  return knex.transaction(async (trx) => {
    const key = `redeem:${r.paymentId}`;
    if (await trx('loyalty_ledger').where('key', key).first('id')) return true; // a retry: it was debited
    return applyLedgerEntry(trx, r.locationId, r.customerId, {
      kind: 'redeem',
      points: -r.points,
      basis: r.amount,
      orderId: r.orderId,
      paymentId: r.paymentId,
      key,
    });
  });
}
