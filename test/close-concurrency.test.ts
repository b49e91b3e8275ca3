import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { until } from './support/payments';
import { orderActivities } from '../activities/orders';
import { writeOrderEvents } from '../db/order-events';
import { topic, type OrderEvent } from '../core/events';
import type { OrderSnapshot } from '../core/order';
import { logger } from '../platform/logger';

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

/**
 * The API publishes a cash close's batch the moment the Update answers, while the worker's close
 * writes the same batch with the order. Here the API's write lands exactly when it hurts: just
 * after the close locked the order row. Both writers must take the event keys and the order row
 * in one order, or each waits for the other (the close for the keys, the API for the row).
 */
it('writes a close and the API publish of its batch side by side without a deadlock', async () => {
  const order = await openOrder('Croissant', 'Burger');
  // The API writes the new order's projection just after its answer.
  const row = (): Promise<{ snapshot: OrderSnapshot } | undefined> =>
    h.deps.knex('orders').where('id', order.id).first('snapshot');
  const open = (await until(row, Boolean))!.snapshot;
  const closed: OrderSnapshot = { ...open, status: 'closed', version: open.version + 1 };
  const events: OrderEvent[] = [
    { event: 'order.updated', version: closed.version, topics: [topic.order(order.id)], data: closed },
  ];
  const batch = { orderId: order.id, locationId: open.locationId, events, snapshot: closed };
  const before = await deadlocks();
  let apiWrite: Promise<void> | undefined;
  let lockedBy: unknown;
  const onQuery = (q: { sql: string; bindings?: unknown[]; __knexTxId?: unknown }) => {
    if (apiWrite) return;
    if (lockedBy !== undefined && q.__knexTxId === lockedBy) apiWrite = writeOrderEvents(h.deps.knex, batch);
    else if (/from "?orders"? .*for update/i.test(q.sql) && q.bindings?.includes(order.id)) lockedBy = q.__knexTxId;
  };
  h.deps.knex.on('query', onQuery);
  try {
    // Either write fails if Postgres picks it as the deadlock's victim.
    const close = orderActivities({ knex: h.deps.knex, logger }).persistOrder({
      snapshot: closed,
      stockLines: [],
      events,
    });
    const settled = await Promise.allSettled([close, close.finally(() => apiWrite)]);
    expect(settled.map((r) => (r.status === 'rejected' ? String(r.reason) : r.status))).toEqual([
      'fulfilled',
      'fulfilled',
    ]);
    expect(apiWrite).toBeDefined();
  } finally {
    h.deps.knex.off('query', onQuery);
  }
  expect(await deadlocks()).toBe(before);
  const written = await h.deps.knex('order_events').where({ order_id: order.id, version: closed.version }).count();
  expect(Number(written[0]!.count)).toBe(1);
  const persisted = await h.deps.knex('orders').where('id', order.id).first('version', 'persisted_at');
  expect(persisted).toMatchObject({ version: closed.version, persisted_at: expect.any(Date) });
});

/**
 * A refund of a card payment can settle (and write payments.refunded) before the checkout hears of
 * it, so the snapshot a close writes may still call the payment succeeded. The close must not
 * take the payment's `refunded` status back.
 */
it('keeps a payment refunded that a refund settled before the close heard of it', async () => {
  const order = await openOrder('Croissant', 'Burger');
  const row = (): Promise<{ snapshot: OrderSnapshot } | undefined> =>
    h.deps.knex('orders').where('id', order.id).first('snapshot');
  const open = (await until(row, Boolean))!.snapshot;
  const payment = {
    id: randomUUID(),
    orderId: order.id,
    method: 'card' as const,
    provider: 'stripe',
    status: 'succeeded' as const,
    amount: open.totals.total,
    tip: 0,
    fee: 0,
    reference: 'pi_refunded_first',
    createdAt: new Date().toISOString(),
    settledAt: new Date().toISOString(),
  };
  const closed: OrderSnapshot = { ...open, status: 'closed', version: open.version + 1, payments: [payment] };
  const close = () => orderActivities({ knex: h.deps.knex, logger }).persistOrder({ snapshot: closed, stockLines: [] });
  // The payment's row as the refund left it: the whole amount refunded.
  await h.deps.knex('payments').insert({
    id: payment.id,
    location_id: open.locationId,
    order_id: order.id,
    seq: 1,
    method: 'card',
    provider: 'stripe',
    status: 'succeeded',
    amount: payment.amount,
    refunded: payment.amount,
    created_at: payment.createdAt,
  });

  await close();

  expect(await h.deps.knex('payments').where('id', payment.id).first('status', 'refunded')).toEqual({
    status: 'refunded',
    refunded: payment.amount,
  });
});

/**
 * A close can look for the order's row before the API's write of the same version is committed:
 * the lock finds nothing, and the close's own insert then waits for the API's and, being no
 * newer, changes nothing. The order must still end up marked persisted (or a restarted close
 * would write it all again, and support's "not persisted" list would hold a closed sale).
 */
it("marks a close persisted whose row the API's write of the same version committed after the close looked for it", async () => {
  const order = await openOrder('Croissant', 'Burger');
  const row = (): Promise<{ snapshot: OrderSnapshot } | undefined> =>
    h.deps.knex('orders').where('id', order.id).first('snapshot');
  const open = (await until(row, Boolean))!.snapshot;
  // An order of its own whose row nobody wrote yet (same lines, fresh ids).
  const id = randomUUID();
  const lines = open.lines.map((l) => ({ ...l, id: randomUUID() }));
  const closed: OrderSnapshot = { ...open, id, lines, status: 'closed', version: open.version + 1 };
  const events: OrderEvent[] = [
    { event: 'order.updated', version: closed.version, topics: [topic.order(id)], data: closed },
  ];
  const apiWrite = await h.deps.knex.transaction();
  await writeOrderEvents(apiWrite, { orderId: id, locationId: open.locationId, events, snapshot: closed });

  const close = orderActivities({ knex: h.deps.knex, logger }).persistOrder({ snapshot: closed, stockLines: [] });
  // The close's lock saw no row (the API's is not committed); its insert waits for the API's.
  await until(
    () =>
      h.deps.knex.raw(
        `select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query ilike '%insert into "orders"%'`,
      ),
    (r) => r.rows[0].n === 1,
  );
  await apiWrite.commit();
  await close;

  const written = await h.deps.knex('orders').where('id', id).first('version', 'persisted_at');
  expect(written).toMatchObject({ version: closed.version, persisted_at: expect.any(Date) });
});

/**
 * Every round trip of a close holds up the cashier's answer, and those under the items' locks
 * hold up every other till selling the same items (issue 10). A sold order's close is: lock and
 * mark the order, write its own rows (projection, lines, payments, table), lock the items, move
 * their stock, draw the receipt number.
 */
it('closes a sold order in five statements, its rows all written', async () => {
  const order = await openOrder('Croissant', 'Burger');
  const row = (): Promise<{ snapshot: OrderSnapshot } | undefined> =>
    h.deps.knex('orders').where('id', order.id).first('snapshot');
  const open = (await until(row, Boolean))!.snapshot;
  const half = Math.floor(open.totals.total / 2);
  const cash = (amount: number) => ({
    id: randomUUID(),
    orderId: order.id,
    method: 'cash' as const,
    provider: null,
    status: 'succeeded' as const,
    amount,
    tip: 0,
    fee: 0,
    tendered: amount,
    change: 0,
    createdAt: new Date().toISOString(),
    settledAt: new Date().toISOString(),
  });
  const payments = [cash(half), cash(open.totals.total - half)];
  const closed: OrderSnapshot = { ...open, status: 'closed', version: open.version + 1, payments };
  const stockLines = open.lines.map((l) => ({ lineId: l.id, itemId: l.itemId!, quantity: l.quantity }));
  const statements = new Map<unknown, string[]>();
  const onQuery = (q: { sql: string; __knexTxId?: unknown }) => {
    if (q.__knexTxId && !/^(BEGIN|COMMIT)/.test(q.sql))
      statements.set(q.__knexTxId, [...(statements.get(q.__knexTxId) ?? []), q.sql]);
  };
  h.deps.knex.on('query', onQuery);
  try {
    const persisted = await orderActivities({ knex: h.deps.knex, logger }).persistOrder({
      snapshot: closed,
      stockLines,
    });
    expect(persisted.receiptNumber).toEqual(expect.any(Number));
  } finally {
    h.deps.knex.off('query', onQuery);
  }
  const close = [...statements.values()].find((sqls) =>
    sqls.some((sql) => /UPDATE orders o SET persisted_at/.test(sql)),
  );
  expect(close).toHaveLength(5);
  const count = async (table: string, column = 'order_id') =>
    Number((await h.deps.knex(table).where(column, order.id).count())[0]!.count);
  expect([await count('order_lines'), await count('payments'), await count('inventory_movements')]).toEqual([2, 2, 2]);
});
