import { DateTime } from 'luxon';
import type { Harness } from './harness';
import { postPayment, until } from './payments';

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
  if (opts.discount) {
    const res = await h.api('POST', `/api/v1/orders/${snap.id}/discounts`, {
      token,
      body: { discountId: h.shop.discounts[opts.discount] },
    });
    expect(res.status).toBe(200);
    snap = res.body;
  }
  const paid = await postPayment(h, token, snap.id, {
    method: 'cash',
    amount: snap.totals.balance,
    tendered: snap.totals.balance,
  });
  expect(paid.status).toBe(201);
  expect(paid.body.order.status).toBe('closed');
  await until(
    async () => (await h.deps.knex('orders').where({ id: snap.id }).first('persisted_at'))?.persisted_at,
    Boolean,
  );
  if (opts.closedAt)
    await h.deps.knex('orders').where({ id: snap.id }).update({ closed_at: opts.closedAt.toUTC().toJSDate() });
  return paid.body.order;
}
