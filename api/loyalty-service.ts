/** Loyalty for the API: turning a points payment into an amount, and reading a customer's ledger. */
import type { Knex } from 'knex';
import { MAX_MONEY } from '../core/money';
import { loyaltySettings } from '../db/loyalty';
import { conflict, fieldError } from './errors';
import { getOrder } from './order-service';
import type { AppDeps, AuthContext } from './types';

/**
 * `{"method": "loyalty", "points"}` → the payment request the order's workflow takes (amount =
 * points × pointValue). Refused here when loyalty is off, the order has no customer or the
 * customer has fewer points (the debit itself decides again, for two terminals at once).
 */
export async function pointsPayment(
  deps: AppDeps,
  auth: AuthContext,
  orderId: string,
  body: { points?: number; amount?: number },
) {
  const settings = await loyaltySettings(deps.knex, auth.locationId);
  if (!settings.enabled || settings.pointValue < 1)
    throw conflict('Paying with loyalty points is not turned on in settings');
  const points = body.points!;
  const amount = points * settings.pointValue;
  if (amount > MAX_MONEY) throw fieldError('points', `points may be worth at most ${MAX_MONEY} minor units`);
  if (body.amount !== undefined && body.amount !== amount)
    throw fieldError('amount', `${points} points are worth ${amount}, not ${body.amount}`);
  const order = await getOrder(deps, auth, orderId);
  if (!order.customerId) throw conflict('Attach a customer to the order to pay with points');
  const customer = await deps.knex('customers').where({ id: order.customerId }).first('loyalty_points');
  if ((customer?.loyalty_points ?? 0) < points)
    throw fieldError('points', `The customer has ${customer?.loyalty_points ?? 0} points`);
  return { method: 'loyalty' as const, amount, points };
}

export async function loyaltyAccount(db: Knex, customerId: string, balance: number, limit: number) {
  const rows = await db('loyalty_ledger').where('customer_id', customerId).orderBy('id', 'desc').limit(limit);
  return {
    customerId,
    balance,
    ledger: rows.map((r) => ({
      id: String(r.id),
      kind: r.kind,
      points: r.points,
      shortfall: r.shortfall,
      orderId: r.order_id,
      paymentId: r.payment_id,
      refundId: r.refund_id,
      staffId: r.staff_id,
      reason: r.reason,
      createdAt: new Date(r.created_at).toISOString(),
    })),
  };
}
