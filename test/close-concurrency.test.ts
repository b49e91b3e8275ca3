import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { until } from './support/payments';

/**
 * Closing transactions of one location run side by side: each writes its lines (which key-share
 * the items they reference), deducts stock (item rows) and draws a receipt number (the location
 * row). Ten terminals closing orders of the same items at once must never deadlock: each
 * deadlock costs a second of waiting and an aborted close (bench:checkout spent seconds per
 * cart change in them).
 */
let h: Harness;
let cashier: string;

beforeAll(async () => {
  h = await startHarness();
  cashier = await h.login('3456');
  await h.deps.knex('items').update({ track_stock: true, stock_quantity: 10_000 });
});
afterAll(async () => h?.close());

const deadlocks = async () =>
  Number(
    (await h.deps.knex.raw('select deadlocks from pg_stat_database where datname = current_database()')).rows[0]
      .deadlocks,
  );

async function openOrder(first: string, second: string): Promise<any> {
  const res = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: {
      type: 'takeaway',
      lines: [
        { itemId: h.shop.items[first], quantity: 1 },
        { itemId: h.shop.items[second], quantity: 1 },
      ],
    },
  });
  expect(res.status).toBe(201);
  return res.body;
}

it('closes orders of the same items from many terminals at once without a deadlock', async () => {
  const before = await deadlocks();
  const orders = await Promise.all(
    Array.from({ length: 12 }, (_, i) => (i % 2 ? openOrder('Croissant', 'Burger') : openOrder('Burger', 'Croissant'))),
  );
  const paid = await Promise.all(
    orders.map((o) =>
      h.api('POST', `/api/v1/orders/${o.id}/payments`, {
        token: cashier,
        body: { method: 'cash', amount: o.totals.total, tendered: o.totals.total },
        headers: { 'idempotency-key': randomUUID() },
      }),
    ),
  );
  expect(paid.map((r) => r.body.order?.status)).toEqual(orders.map(() => 'closed'));
  await until(
    () =>
      h.deps
        .knex('orders')
        .whereIn(
          'id',
          orders.map((o) => o.id),
        )
        .whereNotNull('persisted_at')
        .count(),
    (r) => Number(r[0]!.count) === orders.length,
  );
  const receipts = await h.deps
    .knex('orders')
    .whereIn(
      'id',
      orders.map((o) => o.id),
    )
    .pluck('receipt_number');
  expect(new Set(receipts).size).toBe(orders.length);
  expect(await deadlocks()).toBe(before);
});
