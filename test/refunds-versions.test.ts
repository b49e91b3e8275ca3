import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { PAYMENT_TEST_TIMING, postPayment, until } from './support/payments';
import { connectSocket, type TestSocket } from './support/ws-client';

/**
 * One version allocator per order, whoever changes it: refunds while the checkout workflow still
 * runs (an open split-tender order, a closed order waiting for the kitchen's bump) are numbered by
 * the checkout; refunds after it ended by Postgres. Every order's events arrive in strictly
 * increasing versions without gaps, and neither writer loses the other's fields.
 */
let h: Harness;
let cashier: string;
let manager: string;
let kitchen: string;

beforeAll(async () => {
  h = await startHarness({ sandboxPayments: true, env: PAYMENT_TEST_TIMING });
  await h.deps
    .knex('locations')
    .where({ id: h.shop.locationId })
    .update({ currency: 'USD', tax_rate: 800, auto_print_kitchen: false });
  cashier = await h.login('3456');
  manager = await h.login('2345');
  kitchen = await h.login('4567');
}, 120_000);
afterAll(async () => h?.close());

/** 3 croissants (3 × 325) and 2 waters (2 × 250): subtotal 1475, 8% tax 118, total 1593. */
async function openOrder(): Promise<any> {
  const lines = [
    { itemId: h.shop.items['Croissant']!, quantity: 3 },
    { itemId: h.shop.items['Sparkling water']!, quantity: 2 },
  ];
  const res = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway', lines } });
  expect(res.status).toBe(201);
  return res.body;
}

async function payCash(orderId: string, amount: number): Promise<any> {
  const res = await postPayment(h, cashier, orderId, { method: 'cash', amount, tendered: amount });
  expect(res.status).toBe(201);
  return res.body;
}

async function refund(orderId: string, body: Record<string, unknown>): Promise<any> {
  const res = await h.api('POST', `/api/v1/orders/${orderId}/refunds`, {
    token: manager,
    body,
    headers: { 'idempotency-key': randomUUID() },
  });
  expect(res.status).toBe(201);
  return res.body;
}

const order = (id: string) => h.api('GET', `/api/v1/orders/${id}`, { token: cashier }).then((r) => r.body);
const checkoutEnded = (id: string) => h.deps.temporal.workflow.getHandle(`order-${id}`).result();

async function subscribed(orderId: string): Promise<TestSocket> {
  const socket = await connectSocket(h.baseUrl, cashier);
  socket.send({ type: 'subscribe', topics: [`order:${orderId}`] });
  await socket.waitFor((m) => m.type === 'subscribed');
  return socket;
}

/**
 * The order topic as a client sees it: versions never go back, the versions seen are consecutive
 * (no gap), and no version has two order.updated (no version taken twice). Returns the versions.
 */
function expectGaplessVersions(socket: TestSocket): number[] {
  const all = socket.events((m) => m.topic.startsWith('order:')).map((e) => e.version);
  expect(all).toEqual([...all].sort((a, b) => a - b));
  const versions = [...new Set(all)];
  expect(versions).toEqual(versions.map((_, i) => versions[0] + i));
  const updated = socket.events((m) => m.event === 'order.updated').map((e) => e.version);
  expect(updated).toEqual([...new Set(updated)]);
  return versions;
}

describe('refunds while the checkout runs', () => {
  it('an open split-tender order refunded in full may then be cancelled, its versions gapless', async () => {
    const o = await openOrder();
    const socket = await subscribed(o.id);
    try {
      const payment = await payCash(o.id, 500);
      const r = await refund(o.id, { reason: 'customer left', paymentId: payment.id });
      expect(r).toMatchObject({ amount: 500, status: 'succeeded' });
      const cancel = await h.api('POST', `/api/v1/orders/${o.id}/cancel`, {
        token: cashier,
        body: { reason: 'refunded, customer left' },
      });
      expect(cancel.status).toBe(200);
      expect(cancel.body).toMatchObject({ status: 'cancelled', totals: { refunded: 500 } });
      await checkoutEnded(o.id);
      await socket.waitFor((m) => m.type === 'event' && m.event === 'order.updated' && m.data.status === 'cancelled');
      expectGaplessVersions(socket);
      expect(socket.events((m) => m.event === 'refund.updated').map((e) => e.data.id)).toEqual([r.id]);
    } finally {
      await socket.close();
    }
  });

  it("an open order's snapshot shows the refund: totals.refunded and the payment's refunded", async () => {
    const o = await openOrder();
    const payment = await payCash(o.id, 600);
    await refund(o.id, { reason: 'overcharged', paymentId: payment.id, amount: 200 });
    const after = await order(o.id);
    expect(after).toMatchObject({
      status: 'open',
      // The 200 went back before the sale: it is due again.
      totals: { paid: 600, refunded: 200, balance: o.totals.total - 600 + 200 },
    });
    expect(after.payments[0]).toMatchObject({ id: payment.id, status: 'succeeded', refunded: 200 });
  });

  it('a closed order waiting for the bump keeps the refund through the bump, its versions gapless', async () => {
    const o = await openOrder();
    const socket = await subscribed(o.id);
    try {
      expect((await h.api('POST', `/api/v1/orders/${o.id}/submit`, { token: cashier })).status).toBe(200);
      await payCash(o.id, o.totals.total);
      await until(
        () => h.deps.knex('orders').where({ id: o.id }).first('persisted_at'),
        (r) => !!r?.persisted_at,
      );
      const r = await refund(o.id, { reason: 'cold coffee', amount: 300 });
      expect((await h.api('POST', `/api/v1/orders/${o.id}/ready`, { token: kitchen })).status).toBe(200);
      await checkoutEnded(o.id);
      await socket.waitFor((m) => m.type === 'event' && m.event === 'order.ready');
      expectGaplessVersions(socket);
      const after = await order(o.id);
      expect(after).toMatchObject({ status: 'partially_refunded', kitchenStatus: 'ready', totals: { refunded: 300 } });
      expect(after.payments[0]).toMatchObject({ status: 'succeeded', refunded: 300 });
      expect(socket.events((m) => m.event === 'refund.updated').map((e) => e.data.id)).toEqual([r.id]);
    } finally {
      await socket.close();
    }
  });

  it('the persisted order and payment rows keep the refunded amounts after the close', async () => {
    const o = await openOrder();
    const payment = await payCash(o.id, 500);
    await refund(o.id, { reason: 'wrong tender', paymentId: payment.id });
    await payCash(o.id, o.totals.total); // the 500 went back, so the whole total is due
    await checkoutEnded(o.id);
    const row = await h.deps.knex('orders').where({ id: o.id }).first('status', 'refunded', 'persisted_at');
    // Sold in full after the tender was taken back: nothing of the sale was refunded.
    expect(row).toMatchObject({ status: 'closed', refunded: 500, persisted_at: expect.anything() });
    const paymentRow = await h.deps.knex('payments').where({ id: payment.id }).first('status', 'refunded');
    expect(paymentRow).toEqual({ status: 'refunded', refunded: 500 });
  });

  it('a cart change may not take the total below the money kept (paid less what went back)', async () => {
    const o = await openOrder();
    const payment = await payCash(o.id, 700);
    await refund(o.id, { reason: 'partial', paymentId: payment.id, amount: 100 });
    const croissants = o.lines[0];
    // Without the croissants the total is 540, below the 600 kept: the order could never balance.
    const res = await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${croissants.id}`, { token: cashier });
    expect(res.status).toBe(409);
  });

  it('a cart change may take the total down to the money kept once a part went back', async () => {
    const o = await openOrder();
    const payment = await payCash(o.id, 700);
    await refund(o.id, { reason: 'partial', paymentId: payment.id, amount: 200 });
    const croissants = o.lines[0];
    // Without the croissants the total is 540, above the 500 kept: 40 are still due.
    const res = await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${croissants.id}`, { token: cashier });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'open', totals: { total: 540, balance: 40 } });
  });
});

describe('a gateway refund that finishes later', () => {
  it('on an open order: pending, then succeeded, both recorded by the checkout in gapless versions', async () => {
    const o = await openOrder();
    const socket = await subscribed(o.id);
    h.simulators.square!.scriptRefunds({ pendingMs: 800 });
    try {
      const card = await postPayment(h, cashier, o.id, {
        method: 'card',
        provider: 'square',
        amount: 600,
        sourceId: 'cnon:card-nonce-ok',
      });
      expect(card.status).toBe(201);
      const res = await h.api('POST', `/api/v1/orders/${o.id}/refunds`, {
        token: manager,
        body: { reason: 'late', paymentId: card.body.id, amount: 300 },
        headers: { 'idempotency-key': randomUUID() },
      });
      expect(res.status).toBe(202);
      await socket.waitFor((m) => m.type === 'event' && m.event === 'order.updated' && m.data.totals.refunded === 300);
      expectGaplessVersions(socket);
      expect(socket.events((m) => m.event === 'refund.updated').map((e) => e.data.status)).toEqual([
        'pending',
        'succeeded',
      ]);
      expect(await order(o.id)).toMatchObject({ status: 'open', totals: { refunded: 300 } });
    } finally {
      h.simulators.square!.scriptRefunds(undefined);
      await socket.close();
    }
  });
});

describe('refunds after the checkout ended', () => {
  it('are numbered by Postgres right after the checkout’s last version', async () => {
    const o = await openOrder();
    const socket = await subscribed(o.id);
    try {
      await payCash(o.id, o.totals.total);
      await checkoutEnded(o.id);
      const r = await refund(o.id, { reason: 'next day', amount: 250 });
      await socket.waitFor((m) => m.type === 'event' && m.event === 'order.updated' && m.data.totals.refunded === 250);
      const versions = expectGaplessVersions(socket);
      const refundEvent = socket.events((m) => m.event === 'refund.updated')[0];
      expect(refundEvent).toMatchObject({ version: versions[versions.length - 1], data: { id: r.id } });
      expect(await order(o.id)).toMatchObject({
        status: 'partially_refunded',
        version: refundEvent.version,
        totals: { refunded: 250 },
      });
    } finally {
      await socket.close();
    }
  });
});
