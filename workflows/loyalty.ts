/**
 * Paying with loyalty points, for the checkout workflow. The payment is recorded as pending first
 * (so nothing else changes the order meanwhile), the points are debited by one keyed activity
 * (Postgres decides when two terminals redeem at once), and the payment settles at once:
 * succeeded, or failed when the points were gone.
 */
import { proxyActivities } from '@temporalio/workflow';
import * as order from '../core/order';
import type { OrderState, PaymentState } from '../core/order';
import type { LoyaltyActivities } from '../activities/loyalty';

const { redeemLoyaltyPoints } = proxyActivities<LoyaltyActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});

export async function settlePointsPayment(
  state: OrderState,
  payment: PaymentState,
  points: number,
  now: () => string,
): Promise<void> {
  payment.points = points;
  const debited = await redeemLoyaltyPoints({
    locationId: state.locationId,
    customerId: state.customerId!,
    orderId: state.id,
    paymentId: payment.id,
    points,
    amount: payment.amount,
  });
  const outcome = debited
    ? { status: 'succeeded' as const }
    : { status: 'failed' as const, failureReason: 'The customer does not have enough loyalty points' };
  order.applyPaymentUpdate(state, { id: payment.id, ...outcome, settledAt: now() }, now());
}
