import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { PAYMENT_TEST_TIMING, until } from './support/payments';
import { SA } from '../core/search-attributes';
import { connectSocket } from './support/ws-client';

/**
 * Refunds end to end: POST /api/v1/orders/:id/refunds → reservation under row locks → the
 * `refund` workflow → the gateway simulators (or the cash drawer) → the order, its payment,
 * events, stock and reports learn of it.
 */
let h: Harness;
let cashier: string;
let manager: string;

beforeAll(async () => {
  h = await startHarness({ sandboxPayments: true, env: PAYMENT_TEST_TIMING });
  await h.deps
    .knex('locations')
    .where({ id: h.shop.locationId })
    .update({ currency: 'USD', tax_rate: 800, auto_print_kitchen: false });
  // Tracked items with no stock are sold out (86'd): give these tests plenty to sell.
  await h.deps.knex('items').whereIn('id', [CROISSANT(), WATER()]).update({ stock_quantity: PLENTY });
  cashier = await h.login('3456');
  manager = await h.login('2345');
}, 120_000);
afterAll(async () => h?.close());

const CROISSANT = () => h.shop.items['Croissant']!;
const WATER = () => h.shop.items['Sparkling water']!;
const PLENTY = 10_000;

/** 3 croissants (3 × 325) and 2 waters (2 × 250): subtotal 1475, 8% tax 118, total 1593. */
async function openOrder(): Promise<any> {
  const res = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: {
      type: 'takeaway',
      lines: [
        { itemId: CROISSANT(), quantity: 3 },
        { itemId: WATER(), quantity: 2 },
      ],
    },
  });
  expect(res.status).toBe(201);
  return res.body;
}

async function pay(orderId: string, body: Record<string, unknown>): Promise<any> {
  const res = await h.api('POST', `/api/v1/orders/${orderId}/payments`, {
    token: cashier,
    body,
    headers: { 'idempotency-key': randomUUID() },
  });
  expect(res.status).toBe(201);
  return res.body;
}

const order = (id: string) => h.api('GET', `/api/v1/orders/${id}`, { token: cashier }).then((r) => r.body);
/**
 * Closed, persisted and its checkout ended: these refunds go through Postgres's allocator (refunds
 * while the checkout still runs are in refunds-versions.test.ts).
 */
async function closed(id: string): Promise<any> {
  await until(
    () => h.deps.knex('orders').where({ id }).first('persisted_at'),
    (r) => !!r?.persisted_at,
  );
  await h.deps.temporal.workflow.getHandle(`order-${id}`).result();
  return order(id);
}

/** A closed order paid in full with `tender` (cash, Stripe or Square card). */
async function paidOrder(tender: 'cash' | 'stripe' | 'square'): Promise<any> {
  const o = await openOrder();
  const total = o.totals.total;
  if (tender === 'cash') await pay(o.id, { method: 'cash', amount: total, tendered: total });
  else
    await pay(o.id, {
      method: 'card',
      provider: tender,
      amount: total,
      sourceId: tender === 'stripe' ? 'pm_card_visa' : 'cnon:card-nonce-ok',
    });
  return closed(o.id);
}

function refund(orderId: string, body: Record<string, unknown>, key: string | null = randomUUID(), token = manager) {
  return h.api('POST', `/api/v1/orders/${orderId}/refunds`, {
    token,
    body,
    headers: key ? { 'idempotency-key': key } : {},
  });
}

const stock = async (itemId: string) =>
  (await h.deps.knex('items').where({ id: itemId }).first('stock_quantity')).stock_quantity as number;

describe('refunds', () => {
  it('refunds a cash order in full at once: 201, the order and its payment become refunded', async () => {
    const o = await paidOrder('cash');
    const res = await refund(o.id, { reason: 'customer changed their mind' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      orderId: o.id,
      paymentId: o.payments[0].id,
      method: 'cash',
      amount: 1593,
      status: 'succeeded',
      lines: [],
      restock: false,
      settledAt: expect.any(String),
    });
    const after = await order(o.id);
    expect(after.status).toBe('refunded');
    expect(after.totals.refunded).toBe(1593);
    expect(after.payments[0]).toMatchObject({ status: 'refunded', refunded: 1593 });
    expect(after.version).toBeGreaterThan(o.version);
  });

  it('refunds line quantities through Stripe: each line its share of net and tax, order partially refunded', async () => {
    const o = await paidOrder('stripe');
    const [croissants] = o.lines;
    // croissant line: 975 of 1475 net, its tax share 78 of 118 (largest remainder); 1 of 3 units = floor(975/3) + floor(78/3)
    const res = await refund(o.id, { reason: 'stale', lines: [{ lineId: croissants.id, quantity: 1 }] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      method: 'card',
      provider: 'stripe',
      amount: 325 + 26,
      status: 'succeeded',
      lines: [{ lineId: croissants.id, quantity: 1, amount: 351 }],
    });
    expect(res.body.reference).toMatch(/^re_/);
    const after = await order(o.id);
    expect(after).toMatchObject({ status: 'partially_refunded', totals: { refunded: 351 } });
    expect(after.payments[0]).toMatchObject({ status: 'succeeded', refunded: 351 });
  });

  it('refunding every line in several partial refunds gives back exactly the order total', async () => {
    const o = await paidOrder('cash');
    const [c, w] = o.lines;
    const parts = [
      [c.id, 1],
      [w.id, 1],
      [c.id, 2],
      [w.id, 1],
    ] as const;
    let sum = 0;
    for (const [lineId, quantity] of parts) {
      const res = await refund(o.id, { reason: 'returned', lines: [{ lineId, quantity }] });
      expect(res.status).toBe(201);
      sum += res.body.amount;
    }
    expect(sum).toBe(o.totals.total);
    expect(await order(o.id)).toMatchObject({ status: 'refunded', totals: { refunded: o.totals.total } });
  });

  it('refunds an amount through Square', async () => {
    const o = await paidOrder('square');
    const res = await refund(o.id, { reason: 'goodwill', amount: 500 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ method: 'card', provider: 'square', amount: 500, status: 'succeeded' });
    const sq = h.simulators.square!.refunds().find((r: any) => r.id === res.body.reference);
    expect(sq).toMatchObject({ status: 'COMPLETED', amount_money: { amount: 500, currency: 'USD' } });
    expect(await order(o.id)).toMatchObject({ status: 'partially_refunded', totals: { refunded: 500 } });
  });

  it('awaits a Square refund that is PENDING: 202, then succeeded once Square completes it', async () => {
    const o = await paidOrder('square');
    h.simulators.square!.scriptRefunds({ pendingMs: 800 });
    try {
      const res = await refund(o.id, { reason: 'late', amount: 300 });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ status: 'pending', amount: 300 });
      const done = await until(
        () => h.api('GET', `/api/v1/refunds/${res.body.id}`, { token: manager }).then((r) => r.body),
        (r) => r.status !== 'pending',
      );
      expect(done).toMatchObject({ status: 'succeeded', reference: res.body.reference });
      // The refund row settles first, the order a moment later (its own step: see README, order versions).
      expect(
        await until(
          () => order(o.id),
          (s) => s.totals.refunded === 300,
        ),
      ).toMatchObject({ totals: { refunded: 300 } });
    } finally {
      h.simulators.square!.scriptRefunds(undefined);
    }
  });

  it('lets support staff find the refund workflow by RefundStatus, OrderNumber, LocationId and PaymentMethod', async () => {
    const o = await paidOrder('stripe');
    const res = await refund(o.id, { reason: 'findable', amount: 200 });
    const handle = h.deps.temporal.workflow.getHandle(`refund-${res.body.id}`);
    await handle.result();
    const d = await handle.describe();
    expect(d.typedSearchAttributes.get(SA.refundStatus)).toBe('succeeded');
    expect(d.typedSearchAttributes.get(SA.orderNumber)).toBe(o.orderNumber);
    expect(d.typedSearchAttributes.get(SA.locationId)).toBe(h.shop.locationId);
    expect(d.typedSearchAttributes.get(SA.paymentMethod)).toEqual(['card']);
  });

  it('a repeated request with the same Idempotency-Key returns the same refund and refunds once', async () => {
    const o = await paidOrder('stripe');
    const key = randomUUID();
    const first = await refund(o.id, { reason: 'twice?', amount: 400 }, key);
    const second = await refund(o.id, { reason: 'twice?', amount: 400 }, key);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(await h.deps.knex('refunds').where({ order_id: o.id })).toHaveLength(1);
    expect(
      h.simulators.stripe!.refunds().filter((r: any) => r.payment_intent === o.payments[0].reference),
    ).toHaveLength(1);
    expect(await order(o.id)).toMatchObject({ totals: { refunded: 400 } });
  });

  it('two managers refunding at once can never exceed what was paid', async () => {
    const o = await paidOrder('cash');
    const results = await Promise.all([0, 1, 2, 3].map(() => refund(o.id, { reason: 'race', amount: 1000 })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 422, 422, 422]);
    const rows = await h.deps.knex('refunds').where({ order_id: o.id });
    expect(rows.map((r) => r.amount)).toEqual([1000]);
  });

  it('restocks refunded lines once per refund and line; a second partial refund restocks its own quantity', async () => {
    const o = await paidOrder('cash');
    const [c] = o.lines;
    const before = await stock(CROISSANT());
    expect(
      (await refund(o.id, { reason: 'returned', lines: [{ lineId: c.id, quantity: 1 }], restock: true })).status,
    ).toBe(201);
    expect(
      (await refund(o.id, { reason: 'returned', lines: [{ lineId: c.id, quantity: 2 }], restock: true })).status,
    ).toBe(201);
    expect(await stock(CROISSANT())).toBe(before + 3);
    const moves = await h.deps.knex('inventory_movements').where({ order_id: o.id, reason: 'refund' });
    expect(moves.map((m) => m.delta).sort()).toEqual([1, 2]);
  });

  it('restocks an item whose stock is below zero (sales may take it there): 201, one movement with the quantity it left', async () => {
    const o = await paidOrder('cash');
    const [c] = o.lines;
    await h.deps.knex('items').where({ id: CROISSANT() }).update({ stock_quantity: -10 });
    const res = await refund(o.id, { reason: 'returned', lines: [{ lineId: c.id, quantity: 2 }], restock: true });
    expect(res.status).toBe(201);
    expect(await stock(CROISSANT())).toBe(-8);
    const moves = await h.deps.knex('inventory_movements').where({ order_id: o.id, reason: 'refund' });
    expect(moves).toEqual([expect.objectContaining({ delta: 2, quantity_after: -8, reference: res.body.id })]);
    await h.deps.knex('items').where({ id: CROISSANT() }).update({ stock_quantity: PLENTY }); // on sale again for the next tests
  });

  it('a full refund with restock puts back every unit not refunded before', async () => {
    const o = await paidOrder('cash');
    const [c] = o.lines;
    await refund(o.id, { reason: 'one back', lines: [{ lineId: c.id, quantity: 1 }] });
    const [croissants, water] = [await stock(CROISSANT()), await stock(WATER())];
    const res = await refund(o.id, { reason: 'all back', restock: true });
    expect(res.status).toBe(201);
    expect(res.body.lines.map((l: any) => l.quantity)).toEqual([2, 2]);
    expect([await stock(CROISSANT()), await stock(WATER())]).toEqual([croissants + 2, water + 2]);
  });

  it('publishes refund.updated and order.updated at fresh versions, never reusing one', async () => {
    const o = await paidOrder('cash');
    const res = await refund(o.id, { reason: 'events', amount: 100 });
    const events = await h.deps.knex('order_events').where({ order_id: o.id }).orderBy('id');
    const refundEvents = events.filter((e) => e.dedupe_key.startsWith(`refund:${res.body.id}`));
    expect(refundEvents.map((e) => e.event).sort()).toEqual(['order.updated', 'refund.updated']);
    const earlier = events.filter((e) => !refundEvents.includes(e)).map((e) => e.version);
    expect(refundEvents[0].version).toBe(Math.max(...earlier) + 1);
    expect(refundEvents[1].version).toBe(refundEvents[0].version);
    expect((await order(o.id)).version).toBe(refundEvents[0].version);
  });

  it('tells WebSocket subscribers of the order: refund.updated then order.updated, in version order', async () => {
    const o = await paidOrder('cash');
    const socket = await connectSocket(h.baseUrl, cashier);
    try {
      socket.send({ type: 'subscribe', topics: [`order:${o.id}`] });
      await socket.waitFor((m) => m.type === 'subscribed');
      const res = await refund(o.id, { reason: 'live', amount: 150 });
      const updated = await socket.waitFor(
        (m) => m.type === 'event' && m.event === 'order.updated' && m.data.totals.refunded === 150,
      );
      const refundEvent = socket.events((m) => m.event === 'refund.updated')[0];
      expect(refundEvent).toMatchObject({
        topic: `order:${o.id}`,
        data: { id: res.body.id, status: 'succeeded', amount: 150 },
      });
      expect(refundEvent.version).toBe(updated.version);
      expect(socket.messages.indexOf(refundEvent)).toBeLessThan(socket.messages.indexOf(updated));
      expect(updated.version).toBeGreaterThan(o.version);
      expect(updated.data).toMatchObject({ status: 'partially_refunded', version: updated.version });
    } finally {
      await socket.close();
    }
  });

  it('lists the refunds of an order and reads one by id', async () => {
    const o = await paidOrder('cash');
    const a = await refund(o.id, { reason: 'a', amount: 100 });
    const b = await refund(o.id, { reason: 'b', amount: 200 });
    const list = await h.api('GET', `/api/v1/orders/${o.id}/refunds`, { token: cashier });
    expect(list.status).toBe(200);
    expect(list.body.map((r: any) => r.id).sort()).toEqual([a.body.id, b.body.id].sort());
    const one = await h.api('GET', `/api/v1/refunds/${a.body.id}`, { token: cashier });
    expect(one.body).toEqual(a.body);
    expect((await h.api('GET', `/api/v1/refunds/${randomUUID()}`, { token: cashier })).status).toBe(404);
  });

  it('counts refunds in the daily report on the day they succeed, by method, with net after refunds', async () => {
    const o = await paidOrder('cash');
    const before = (await h.api('GET', '/api/v1/reports/daily', { token: manager })).body;
    await refund(o.id, { reason: 'report', amount: 250 });
    const after = (await h.api('GET', '/api/v1/reports/daily', { token: manager })).body;
    expect(after.refunds - before.refunds).toBe(250);
    expect(after.refundsByMethod.cash - before.refundsByMethod.cash).toBe(250);
    expect(after.net).toBe(before.net);
    expect(after.netAfterRefunds).toBe(after.net - after.refunds);
  });
});

describe('refused refunds', () => {
  let o: any;
  beforeAll(async () => {
    o = await paidOrder('cash');
  });

  it('needs an Idempotency-Key (422)', async () => {
    const res = await refund(o.id, { reason: 'no key' }, null);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'VALIDATION_ERROR', errors: [{ path: 'Idempotency-Key' }] });
  });

  it('refuses lines together with an amount (422)', async () => {
    const res = await refund(o.id, { reason: 'both', amount: 100, lines: [{ lineId: o.lines[0].id, quantity: 1 }] });
    expect(res.status).toBe(422);
  });

  it('refuses restock without lines on a partial refund (422)', async () => {
    expect((await refund(o.id, { reason: 'restock', amount: 100, restock: true })).status).toBe(422);
  });

  it('refuses more than the payment can refund (422, listing each payment)', async () => {
    const res = await refund(o.id, { reason: 'too much', amount: 99_999 });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([
      { path: `payments.${o.payments[0].id}`, message: expect.stringContaining('1593 refundable') },
    ]);
  });

  it('refuses more units of a line than were sold (422)', async () => {
    const res = await refund(o.id, { reason: 'units', lines: [{ lineId: o.lines[0].id, quantity: 4 }] });
    expect(res.status).toBe(422);
    expect(res.body.errors[0].path).toBe('lines[0].quantity');
  });

  it('refuses an order with no succeeded payment (409)', async () => {
    const open = await openOrder();
    expect((await refund(open.id, { reason: 'nothing paid' })).status).toBe(409);
  });

  it('is for managers only (403 for a cashier)', async () => {
    expect((await refund(o.id, { reason: 'cashier' }, randomUUID(), cashier)).status).toBe(403);
  });

  it.each([
    ['no reason', {}],
    ['a number as amount text', { reason: 'x', amount: '100' }],
    ['a fractional amount', { reason: 'x', amount: 10.5 }],
    ['a huge amount', { reason: 'x', amount: 1e20 }],
    ['an empty lines list', { reason: 'x', lines: [] }],
    ['a line id that is no UUID', { reason: 'x', lines: [{ lineId: 'line-1', quantity: 1 }] }],
    ['a zero quantity', { reason: 'x', lines: [{ lineId: '00000000-0000-4000-8000-000000000000', quantity: 0 }] }],
    ['an unknown line', { reason: 'x', lines: [{ lineId: '00000000-0000-4000-8000-000000000000', quantity: 1 }] }],
    ['an unknown field', { reason: 'x', cash: true }],
    ['a paymentId of no payment', { reason: 'x', paymentId: '00000000-0000-4000-8000-000000000000' }],
  ])('refuses %s with 422', async (_name, body) => {
    const res = await refund(o.id, body);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'VALIDATION_ERROR', errors: expect.any(Array) });
  });

  it('answers 404 for an order that does not exist', async () => {
    expect((await refund(randomUUID(), { reason: 'ghost' })).status).toBe(404);
  });

  it('writes nothing for a refused request', async () => {
    await refund(o.id, { reason: 'too much', amount: 99_999 });
    expect(await h.deps.knex('refunds').where({ order_id: o.id })).toHaveLength(0);
  });
});

describe('refunds of an open order', () => {
  it('refunds a cash part-payment of an order that is still open (a split tender abandoned midway)', async () => {
    const o = await openOrder();
    const part = await pay(o.id, { method: 'cash', amount: 500, tendered: 500 });
    const res = await refund(o.id, { reason: 'customer left' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ paymentId: part.id, amount: 500, status: 'succeeded' });
    expect(await h.deps.knex('payments').where({ id: part.id }).first('status', 'refunded')).toEqual({
      status: 'refunded',
      refunded: 500,
    });
  });

  it('refunds a part-payment of an open order whose projection row has not been written yet', async () => {
    const o = await openOrder();
    const part = await pay(o.id, { method: 'cash', amount: 500, tendered: 500 });
    // The publishing activity writes an open order's projection row a moment after each change:
    // wait until it has, then remove it, which is the state right after the payment in a slow run.
    const { version } = await order(o.id);
    await until(
      () => h.deps.knex('orders').where({ id: o.id }).first('version'),
      (r) => r?.version === version,
    );
    await h.deps.knex('orders').where({ id: o.id }).delete();
    const res = await refund(o.id, { reason: 'customer left' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ paymentId: part.id, amount: 500, status: 'succeeded' });
  });

  it('puts a refund of an open order back on its balance: the money went back, so it is due again', async () => {
    const o = await openOrder(); // total 1593
    await pay(o.id, { method: 'cash', amount: 500, tendered: 500 });
    expect((await refund(o.id, { reason: 'wrong card, pays cash instead' })).status).toBe(201);
    const after = await until(
      () => order(o.id),
      (b) => b.totals.refunded === 500,
    );
    expect(after).toMatchObject({ status: 'open', totals: { total: 1593, paid: 500, refunded: 500, balance: 1593 } });
  });

  it('closes an open order after a refund only once the money kept covers its total', async () => {
    const o = await openOrder();
    await pay(o.id, { method: 'cash', amount: 500, tendered: 500 });
    expect((await refund(o.id, { reason: 'wrong card, pays cash instead' })).status).toBe(201);
    await until(
      () => order(o.id),
      (b) => b.totals.refunded === 500,
    );
    const rest = await pay(o.id, { method: 'cash', amount: 1093, tendered: 1093 });
    expect(rest.order).toMatchObject({ status: 'open', totals: { balance: 500 } });
    const last = await pay(o.id, { method: 'cash', amount: 500, tendered: 500 });
    expect(last.order).toMatchObject({ status: 'closed', totals: { paid: 2093, refunded: 500, balance: 0 } });
    await closed(o.id); // its stock is deducted before the next test reads the shelf
  });

  it('refuses restock on an open order, whose stock has not been deducted yet (422, nothing written)', async () => {
    const o = await openOrder();
    await pay(o.id, { method: 'cash', amount: 500, tendered: 500 });
    const stockBefore = await h.deps.knex('items').where({ id: CROISSANT() }).first('stock_quantity');
    const res = await refund(o.id, {
      reason: 'returned',
      lines: [{ lineId: o.lines[0].id, quantity: 1 }],
      restock: true,
    });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'restock' })]);
    expect(await h.deps.knex('refunds').where({ order_id: o.id })).toHaveLength(0);
    expect(await h.deps.knex('items').where({ id: CROISSANT() }).first('stock_quantity')).toEqual(stockBefore);
  });
});

describe('mobile money refund rules (KES)', () => {
  beforeAll(async () => {
    await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ currency: 'KES', tax_rate: 0 });
    await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price: 1000 });
  });

  async function mobileOrder(method: 'mpesa' | 'airtel'): Promise<any> {
    const created = await h.api('POST', '/api/v1/orders', {
      token: cashier,
      body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Burger'], quantity: 1 }] },
    });
    const phone = method === 'mpesa' ? '254712345678' : '254733123456';
    const res = await h.api('POST', `/api/v1/orders/${created.body.id}/payments`, {
      token: cashier,
      body: { method, amount: 1000, phone },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(res.status).toBe(202);
    return closed(created.body.id);
  }

  it('refuses a partial Airtel Money refund before anything is sent (422)', async () => {
    const o = await mobileOrder('airtel');
    const res = await refund(o.id, { reason: 'partial', amount: 500 });
    expect(res.status).toBe(422);
    expect(res.body.detail).toMatch(/whole transactions/);
    expect(await h.deps.knex('refunds').where({ order_id: o.id })).toHaveLength(0);
  });

  it('refunds a whole Airtel Money transaction', async () => {
    const o = await mobileOrder('airtel');
    const res = await refund(o.id, { reason: 'whole' });
    expect([201, 202]).toContain(res.status);
    const done = await until(
      () => h.api('GET', `/api/v1/refunds/${res.body.id}`, { token: manager }).then((r) => r.body),
      (r) => r.status !== 'pending',
    );
    expect(done).toMatchObject({ method: 'airtel', amount: 1000, status: 'succeeded' });
  });

  it("reverses an M-Pesa payment: pending until Daraja posts the result to the refund's own ResultURL", async () => {
    const o = await mobileOrder('mpesa');
    const res = await refund(o.id, { reason: 'reversal' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      method: 'mpesa',
      amount: 1000,
      status: 'pending',
      reference: expect.stringMatching(/^AG_/),
    });
    const done = await until(
      () => h.api('GET', `/api/v1/refunds/${res.body.id}`, { token: manager }).then((r) => r.body),
      (r) => r.status !== 'pending',
    );
    expect(done).toMatchObject({ status: 'succeeded' });
    const { result_token } = await h.deps.knex('refunds').where({ id: res.body.id }).first('result_token');
    const delivered = h.simulators.daraja!.callbacks.filter((c) =>
      c.url.endsWith(`/webhooks/mpesa-result/${result_token}`),
    );
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.status).toBe(200);
  });

  it('answers 404 to a reversal result with an unknown token', async () => {
    const res = await h.api('POST', `/webhooks/mpesa-result/${'x'.repeat(32)}`, {
      body: { Result: { ResultCode: 0, ConversationID: 'AG_1' } },
    });
    expect(res.status).toBe(404);
  });

  it('refuses an M-Pesa refund that is not whole shillings (422)', async () => {
    const o = await mobileOrder('mpesa');
    const res = await refund(o.id, { reason: 'cents', amount: 550 });
    expect(res.status).toBe(422);
    expect(res.body.detail).toMatch(/whole shillings/);
  });
});
