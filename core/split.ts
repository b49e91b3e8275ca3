/**
 * Splitting a bill, pure. By items: chosen line quantities leave the order for a new one (same
 * table, staff, customer), only while no payment has succeeded or is pending on it. In equal
 * shares: N amounts that sum to the balance exactly.
 */
import { CartRejection, hasPendingPayment, hasSucceededPayment, type LineState, type OrderState } from './order';

export interface SplitRequest {
  /** Chosen by the API, so a repeated request names the same new order. */
  newOrderId: string;
  lines: { lineId: string; quantity: number }[];
}

/** N shares of `balance` (minor units): the remainder cents go to the first shares. */
export function equalShares(balance: number, parts: number): number[] {
  const base = Math.floor(balance / parts);
  const rest = balance - base * parts;
  return Array.from({ length: parts }, (_, i) => base + (i < rest ? 1 : 0));
}

export function checkSplit(state: OrderState, req: SplitRequest): void {
  if (state.status !== 'open') throw new CartRejection('conflict', `Order is ${state.status}`);
  if (hasSucceededPayment(state))
    throw new CartRejection('conflict', 'A payment has succeeded on this order: it can no longer be split');
  if (hasPendingPayment(state))
    throw new CartRejection('conflict', 'A payment is pending; cancel it before splitting the order');
  if (!Array.isArray(req.lines) || req.lines.length === 0)
    throw new CartRejection('validation', 'choose at least one line to move', 'lines');
  if (new Set(req.lines.map((l) => l.lineId)).size !== req.lines.length)
    throw new CartRejection('validation', 'a line may be chosen once', 'lines');
  let left = state.lines.reduce((n, l) => n + l.quantity, 0);
  req.lines.forEach((m, i) => {
    const line = state.lines.find((l) => l.id === m.lineId);
    if (!line) throw new CartRejection('validation', 'No such line on this order', `lines[${i}].lineId`);
    if (!Number.isInteger(m.quantity) || m.quantity < 1 || m.quantity > line.quantity) {
      throw new CartRejection(
        'validation',
        `quantity must be a whole number from 1 to ${line.quantity}`,
        `lines[${i}].quantity`,
      );
    }
    left -= m.quantity;
  });
  if (left === 0) throw new CartRejection('validation', 'a split must leave something on this order', 'lines');
}

/**
 * Takes the chosen quantities off the order (their kitchen state goes with them) and returns the
 * new order's state: same table, staff, customer and settings, no discounts or payments.
 */
export function applySplit(state: OrderState, req: SplitRequest, newLineId: () => string, now: string): OrderState {
  const moved: LineState[] = [];
  for (const m of req.lines) {
    const line = state.lines.find((l) => l.id === m.lineId)!;
    const sent = Math.min(line.sentQuantity, m.quantity);
    moved.push({ ...line, id: newLineId(), quantity: m.quantity, sentQuantity: sent });
    line.quantity -= m.quantity;
    line.sentQuantity = Math.min(line.sentQuantity - sent, line.quantity);
  }
  state.lines = state.lines.filter((l) => l.quantity > 0);
  state.version += 1;
  state.updatedAt = now;
  return {
    ...state,
    id: req.newOrderId,
    orderNumber: null,
    status: 'open',
    kitchenStatus: moved.some((l) => l.sentQuantity > 0) ? state.kitchenStatus : 'not_sent',
    version: 0,
    lines: moved,
    discounts: [],
    payments: [],
    refunded: 0,
    refunds: undefined,
    createdAt: now,
    updatedAt: now,
    closedAt: null,
    cancelReason: null,
  };
}
