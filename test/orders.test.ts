import { startHarness, Harness } from './support/harness';
import { Order } from '../db/models/order';
import { eventsWrittenBy } from './support/history';
import { postPayment } from './support/payments';

let h: Harness;
let cashier: string;
beforeAll(async () => {
  h = await startHarness();
  cashier = await h.login('3456');
});
afterAll(async () => h?.close());

describe('checkout over HTTP', () => {
  it('opens an order, prices lines with modifiers and a discount, and closes on cash payments', async () => {
    const { items, modifiers, discounts } = h.shop;
    const created = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'dine_in', table: '5' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      status: 'open',
      kitchenStatus: 'not_sent',
      version: 1,
      currency: 'USD',
      table: '5',
    });
    expect(created.body.orderNumber).toBeGreaterThanOrEqual(1);
    const id = created.body.id;

    const burger = await h.api('POST', `/api/v1/orders/${id}/lines`, {
      token: cashier,
      body: { itemId: items['Burger'], quantity: 2, modifierIds: [modifiers['Extra cheese']] },
    });
    expect(burger.status).toBe(200);
    expect(burger.body.version).toBe(2);
    expect(burger.body.lines[0]).toMatchObject({ name: 'Burger', quantity: 2, unitPrice: 1150, total: 2500 });

    const discounted = await h.api('POST', `/api/v1/orders/${id}/discounts`, {
      token: cashier,
      body: { discountId: discounts['Staff 10%'] },
    });
    expect(discounted.body.totals).toMatchObject({
      subtotal: 2500,
      discount: 250,
      tax: 180,
      total: 2430,
      balance: 2430,
    });

    const first = await postPayment(h, cashier, id, { method: 'cash', amount: 1000, tendered: 1000 });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ method: 'cash', status: 'succeeded', amount: 1000, change: 0 });
    expect(first.body.order.totals.balance).toBe(1430);

    const second = await postPayment(h, cashier, id, { method: 'cash', amount: 1430, tendered: 2000 });
    expect(second.status).toBe(201);
    expect(second.body.change).toBe(570);
    expect(second.body.order.status).toBe('closed');

    await waitFor(async () => (await h.deps.knex('orders').where({ id }).first())?.persisted_at);
    const persisted = await Order.query(h.deps.knex)
      .findById(id)
      .withGraphFetched('[lines.modifiers, payments, discounts]');
    expect(persisted).toMatchObject({ status: 'closed', total: 2430, paid: 2430, discount: 250, tax: 180 });
    expect(persisted!.lines!.map((l) => [l.name, l.quantity, l.total, l.modifiers!.map((m) => m.name)])).toEqual([
      ['Burger', 2, 2500, ['Extra cheese']],
    ]);
    expect(persisted!.payments!.map((p) => [p.method, p.status, p.amount]).sort()).toEqual([
      ['cash', 'succeeded', 1000],
      ['cash', 'succeeded', 1430],
    ]);
    expect(persisted!.discounts!.map((d) => [d.name, d.amount])).toEqual([['Staff 10%', 250]]);

    const get = await h.api('GET', `/api/v1/orders/${id}`, { token: cashier });
    expect(get.body).toMatchObject({ id, status: 'closed' });
  });

  it('rejects invalid cart changes with 422 without touching the workflow history', async () => {
    const created = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } });
    const id = created.body.id;
    const latte = h.shop.items['Latte'];
    const cases = [
      { body: { itemId: latte, quantity: 0, modifierIds: [h.shop.modifiers['Regular']] }, path: 'quantity' },
      { body: { itemId: latte, quantity: 1, modifierIds: [] }, path: 'modifierIds' }, // Size needs 1
      { body: { itemId: latte, quantity: 1, modifierIds: [h.shop.modifiers['Bacon']] }, path: 'modifierIds[0]' },
      {
        body: { itemId: latte, quantity: 1, modifierIds: [h.shop.modifiers['Regular'], h.shop.modifiers['Large']] },
        path: 'modifierIds',
      },
      { body: { itemId: '00000000-0000-4000-8000-000000000000', quantity: 1 }, path: 'itemId' },
    ];
    const written = await eventsWrittenBy(h.deps.temporal, id, async () => {
      for (const c of cases) {
        const res = await h.api('POST', `/api/v1/orders/${id}/lines`, { token: cashier, body: c.body });
        expect(res.status).toBe(422);
        expect(res.body.code).toBe('VALIDATION_ERROR');
        expect(res.body.errors[0].path).toBe(c.path);
      }
    });
    expect(written).toEqual([]);
    const snap = await h.api('GET', `/api/v1/orders/${id}`, { token: cashier });
    expect(snap.body.version).toBe(1);
  });

  it('returns the same order for a repeated create with the same client id', async () => {
    const id = '0190b3e4-6d2a-7c3b-9f00-000000000001';
    const a = await h.api('POST', '/api/v1/orders', { token: cashier, body: { id, type: 'takeaway' } });
    const b = await h.api('POST', '/api/v1/orders', { token: cashier, body: { id, type: 'takeaway' } });
    expect(a.status).toBe(201);
    expect(b.status).toBe(200);
    expect(b.body.orderNumber).toBe(a.body.orderNumber);
    expect(await h.deps.knex('order_number_assignments').where({ order_id: id }).count()).toEqual([{ count: '1' }]);
  });

  it('returns the same order for a repeated create with the same Idempotency-Key', async () => {
    const headers = { 'idempotency-key': 'create-tap-42' };
    const a = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'dine_in', table: '2' }, headers });
    const b = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'dine_in', table: '2' }, headers });
    expect(a.status).toBe(201);
    expect(b.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
    expect(b.body.orderNumber).toBe(a.body.orderNumber);
  });

  it('applies a repeated request with the same Idempotency-Key once', async () => {
    const created = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } });
    const id = created.body.id;
    const body = { itemId: h.shop.items['Espresso'], quantity: 1, modifierIds: [h.shop.modifiers['Regular']] };
    const headers = { 'idempotency-key': 'tap-1' };
    const a = await h.api('POST', `/api/v1/orders/${id}/lines`, { token: cashier, body, headers });
    const b = await h.api('POST', `/api/v1/orders/${id}/lines`, { token: cashier, body, headers });
    expect(a.status).toBe(200);
    expect(b.body).toEqual(a.body);
    const snap = await h.api('GET', `/api/v1/orders/${id}`, { token: cashier });
    expect(snap.body.lines).toHaveLength(1);
  });
});

describe('no-charge orders', () => {
  it('closes a fully discounted order with a zero cash payment, and refuses zero otherwise', async () => {
    const manager = await h.login('2345');
    const free = await h.api('POST', '/api/v1/discounts', {
      token: manager,
      body: { name: 'Staff meal', type: 'percent', value: 10000 },
    });
    expect(free.status).toBe(201);
    const created = await h.api('POST', '/api/v1/orders', {
      token: cashier,
      body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Croissant'], quantity: 1 }] },
    });
    const id = created.body.id;
    const zeroTooEarly = await postPayment(h, cashier, id, { method: 'cash', amount: 0, tendered: 0 });
    expect(zeroTooEarly.status).toBe(422);
    expect(zeroTooEarly.body.errors[0].path).toBe('amount');
    const discounted = await h.api('POST', `/api/v1/orders/${id}/discounts`, {
      token: cashier,
      body: { discountId: free.body.id },
    });
    expect(discounted.body.totals).toMatchObject({ total: 0, balance: 0 });
    const paid = await postPayment(h, cashier, id, { method: 'cash', amount: 0, tendered: 0 });
    expect(paid.status).toBe(201);
    expect(paid.body.order.status).toBe('closed');
    const again = await postPayment(h, cashier, id, { method: 'cash', amount: 0, tendered: 0 });
    expect(again.status).toBe(409);
  });
});

describe('pay-first service', () => {
  it('lets the kitchen bump an order that was paid before it was ready', async () => {
    const kitchen = await h.login('4567');
    const created = await h.api('POST', '/api/v1/orders', {
      token: cashier,
      body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Burger'], quantity: 1 }] },
    });
    const id = created.body.id;
    await h.api('POST', `/api/v1/orders/${id}/submit`, { token: cashier });
    const total = created.body.totals.total;
    const paid = await postPayment(h, cashier, id, { method: 'cash', amount: total, tendered: total });
    expect(paid.body.order).toMatchObject({ status: 'closed', kitchenStatus: 'sent' });
    await waitFor(async () => (await h.deps.knex('orders').where({ id }).first())?.persisted_at);

    const ready = await h.api('POST', `/api/v1/orders/${id}/ready`, { token: kitchen });
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'closed', kitchenStatus: 'ready' });
    const announced = await waitFor(() =>
      h.deps.knex('order_events').where({ order_id: id, event: 'order.ready' }).first(),
    );
    expect(announced.data).toMatchObject({ orderNumber: created.body.orderNumber });
    await h.deps.temporal.workflow.getHandle(`order-${id}`).result();
    const again = await h.api('POST', `/api/v1/orders/${id}/ready`, { token: kitchen });
    expect(again.status).toBe(409);
  });
});

async function waitFor<T>(fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
