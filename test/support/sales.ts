import { DateTime } from 'luxon';
import type { Harness } from './harness';
import { postPayment, until } from './payments';

/** A daily or range report's summary figures (reports.test sums them over days; the CSV lists them in this order). */
export const REPORT_SUMMARY_FIELDS = [
  'orders',
  'gross',
  'discounts',
  'net',
  'tax',
  'serviceCharge',
  'tips',
  'cardFees',
  'refunds',
  'netAfterRefunds',
] as const;

export interface SaleLine {
  item: string;
  quantity: number;
  modifiers?: string[];
}

/**
 * Opens a takeaway order as `token` with these lines (and a discount), pays it in cash, waits until
 * the closing transaction persisted it and, when `closedAt` is given, moves its closing time there.
 * Returns the closed snapshot.
 */
export async function closedSale(
  h: Harness,
  token: string,
  lines: SaleLine[],
  opts: { discount?: string; closedAt?: DateTime } = {},
): Promise<any> {
  const body = {
    type: 'takeaway',
    lines: lines.map((l) => ({
      itemId: h.shop.items[l.item],
      quantity: l.quantity,
      modifierIds: (l.modifiers ?? []).map((m) => h.shop.modifiers[m]),
    })),
  };
  const created = await h.api('POST', '/api/v1/orders', { token, body });
  expect(created.status).toBe(201);
  let snap = created.body;
  if (opts.discount) snap = await addDiscount(h, token, snap.id, opts.discount);
  const paid = await postPayment(h, token, snap.id, {
    method: 'cash',
    amount: snap.totals.balance,
    tendered: snap.totals.balance,
  });
  expect(paid.status).toBe(201);
  expect(paid.body.order.status).toBe('closed');
  await persisted(h, snap.id);
  if (opts.closedAt) await moveClosedAt(h, snap.id, opts.closedAt);
  return paid.body.order;
}

/** Adds the shop's discount `name` to the order: the order as the API answers (asserted 200). */
export async function addDiscount(h: Harness, token: string, orderId: string, name: string): Promise<any> {
  const res = await h.api('POST', `/api/v1/orders/${orderId}/discounts`, {
    token,
    body: { discountId: h.shop.discounts[name] },
  });
  expect(res.status).toBe(200);
  return res.body;
}

/** The payments that settle `balance`: one, or two halves when `split` (the second takes the odd cent). */
export const paymentParts = (balance: number, split = false): number[] =>
  split ? [Math.floor(balance / 2), balance - Math.floor(balance / 2)] : [balance];

/** Waits until the closing transaction persisted the order (closed or cancelled). */
export const persisted = (h: Harness, id: string) =>
  until(async () => (await h.deps.knex('orders').where({ id }).first('persisted_at'))?.persisted_at, Boolean);

/** Moves the order's closing time, so the reports count it on that local day. */
export async function moveClosedAt(h: Harness, id: string, at: DateTime): Promise<void> {
  await h.deps.knex('orders').where({ id }).update({ closed_at: at.toUTC().toJSDate() });
}
