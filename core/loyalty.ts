/**
 * Loyalty points, pure: what an order earns, what a points payment is worth, what a refund takes
 * back. Points are whole numbers; every division rounds down, in the customer's disfavour never by
 * more than one point.
 */
import { CartRejection, type OrderState } from './order';

export interface LoyaltySettings {
  enabled: boolean;
  /** Points per 100 minor units of net. */
  pointsPer100: number;
  /** Minor units one point is worth when paying with points. */
  pointValue: number;
}

/** points = floor(net × pointsPer100 / 100). */
export function pointsEarned(net: number, s: LoyaltySettings): number {
  if (!s.enabled || net <= 0) return 0;
  return Math.floor((net * s.pointsPer100) / 100);
}

/**
 * What refunds up to `refundedSoFar` of an order that cost `total` take back of the `earned`
 * points, all together: each refund takes the difference, so partial refunds add up to exactly the
 * earned points once everything is refunded.
 */
export function pointsToTakeBack(earned: number, total: number, refundedSoFar: number): number {
  if (total <= 0) return earned;
  return Math.floor((earned * Math.min(refundedSoFar, total)) / total);
}

/** Points to give back when `refunded` of a points payment of `amount` (paid with `points`) comes back. */
export function pointsReturned(points: number, amount: number, refunded: number): number {
  if (amount <= 0) return points;
  return Math.floor((points * Math.min(refunded, amount)) / amount);
}

/** A points payment is the order's customer's: the order needs one, and whole points. */
export function checkLoyaltyPayment(state: OrderState, req: { points?: number }): void {
  if (!state.customerId) throw new CartRejection('conflict', 'Attach a customer to the order to pay with points');
  if (!Number.isInteger(req.points) || (req.points as number) <= 0)
    throw new CartRejection('validation', 'points must be a whole number of at least 1', 'points');
}
