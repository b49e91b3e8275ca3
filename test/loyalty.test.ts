import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { postPayment, until } from './support/payments';
import { earnPoints } from '../db/loyalty';

let h: Harness;
let manager: string;
let cashier: string;
let cashier2: string;
beforeAll(async () => {
  h = await startHarness();
  manager = await h.login('2345');
  cashier = await h.login('3456');
  cashier2 = await h.login('3456');
  // 10 points per 100 of net, a point is worth 5. One Burger: net 1150 → 115 points.
  const res = await h.api('PUT', '/api/v1/settings', {
    token: manager,
    body: { loyalty: { enabled: true, pointsPer100: 10, pointValue: 5 } },
  });

  expect(res.body.loyalty).toEqual({ enabled: true, pointsPer100: 10, pointValue: 5 });
});
afterAll(async () => h?.close());

const newCustomer = async () =>
  (await h.api('POST', '/api/v1/customers', { token: cashier, body: { name: `Guest ${randomUUID().slice(0, 8)}` } }))
    .body;
const account = async (id: string) => (await h.api('GET', `/api/v1/customers/${id}/loyalty`, { token: cashier })).body;
const adjust = (id: string, points: number, token = manager) =>
  h.api('POST', `/api/v1/customers/${id}/loyalty/adjust`, { token, body: { points, reason: 'welcome gift' } });
async function orderFor(customerId: string, burgers = 1): Promise<any> {
  const res = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', customerId, lines: [{ itemId: h.shop.items['Burger'], quantity: burgers }] },
  });
  expect(res.status).toBe(201);
  return res.body;
}
const payCash = (o: any) =>
  postPayment(h, cashier, o.id, { method: 'cash', amount: o.totals.balance, tendered: o.totals.balance });
const payPoints = (orderId: string, points: number, token = cashier) =>
  postPayment(h, token, orderId, { method: 'loyalty', points });
const persisted = (id: string) =>
  until(
    () => h.deps.knex('orders').where({ id }).first('persisted_at', 'snapshot'),
    (r) => !!r?.persisted_at,
  );
const refund = (orderId: string, body: Record<string, unknown>) =>
  h.api('POST', `/api/v1/orders/${orderId}/refunds`, {
    token: manager,
    body,
    headers: { 'idempotency-key': randomUUID() },
  });

describe('loyalty', () => {
  it('earns floor(net × pointsPer100 / 100) once when an order with a customer closes', async () => {
    const c = await newCustomer();
    const o = await orderFor(c.id);
    expect((await payCash(o)).body.order.status).toBe('closed');
    const row = await persisted(o.id);
    const acc = await until(
      () => account(c.id),
      (a) => a.balance > 0,
    );
    expect(acc.balance).toBe(115);
    expect(acc.ledger).toMatchObject([{ kind: 'earn', points: 115, orderId: o.id }]);
    // The close retried (or run again after a continue-as-new) earns nothing more: the entry is keyed by the order.
    await h.deps.knex.transaction((trx) => earnPoints(trx, row.snapshot));
    expect((await account(c.id)).balance).toBe(115);
  });

  it('pays with points at once (amount = points × pointValue) and the order closes on the rest', async () => {
    const c = await newCustomer();
    expect((await adjust(c.id, 200)).status).toBe(200);
    const o = await orderFor(c.id);
    const paid = await payPoints(o.id, 100);
    expect(paid.status).toBe(201);
    expect(paid.body).toMatchObject({ method: 'loyalty', status: 'succeeded', amount: 500, points: 100 });
    expect(paid.body.order.totals.paid).toBe(500);
    expect((await account(c.id)).balance).toBe(100);
    expect((await payCash(paid.body.order)).body.order.status).toBe('closed');
  });

  it('refuses more points than the customer has (422) and more than the balance due (422)', async () => {
    const c = await newCustomer();
    await adjust(c.id, 10_000);
    const o = await orderFor(c.id);
    expect((await payPoints(o.id, 10_001)).status).toBe(422);
    const tooMuch = await payPoints(o.id, Math.floor(o.totals.balance / 5) + 1);
    expect(tooMuch.status).toBe(422);
    expect((await account(c.id)).balance).toBe(10_000);
  });

  it('never lets two terminals redeeming the same points at once overdraw the balance', async () => {
    const c = await newCustomer();
    await adjust(c.id, 100);
    const [a, b] = [await orderFor(c.id), await orderFor(c.id)];
    const results = await Promise.all([payPoints(a.id, 100, cashier), payPoints(b.id, 100, cashier2)]);
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status !== 201).every((r) => r.status === 402 || r.status === 422)).toBe(true);
    const acc = await account(c.id);
    expect(acc.balance).toBe(0);
    expect(acc.ledger.filter((e: any) => e.kind === 'redeem')).toHaveLength(1);
  });

  it('takes earned points back on a refund, capped at the balance, with the shortfall in the ledger', async () => {
    const c = await newCustomer();
    const o = await orderFor(c.id);
    await payCash(o);
    await persisted(o.id);
    await until(
      () => account(c.id),
      (a) => a.balance === 115,
    );
    await adjust(c.id, -100); // spent elsewhere: 15 left
    expect((await refund(o.id, { reason: 'cold' })).status).toBe(201);
    const acc = await until(
      () => account(c.id),
      (a) => a.ledger[0]?.kind === 'refund',
    );
    expect(acc.balance).toBe(0);
    expect(acc.ledger[0]).toMatchObject({ kind: 'refund', points: -15, shortfall: 100 });
  });

  it('returns the points of a refunded points payment', async () => {
    const c = await newCustomer();
    await adjust(c.id, 100);
    const o = await orderFor(c.id);
    const paid = await payPoints(o.id, 100);
    expect((await refund(o.id, { reason: 'changed mind', paymentId: paid.body.id })).status).toBe(201);
    const acc = await until(
      () => account(c.id),
      (a) => a.ledger[0]?.kind === 'return',
    );
    expect(acc.balance).toBe(100);
  });

  it('audits manual adjustments and refuses one that would take the balance below zero', async () => {
    const c = await newCustomer();
    expect((await adjust(c.id, 5, cashier)).status).toBe(403);
    expect((await adjust(c.id, 30)).body.balance).toBe(30);
    const below = await adjust(c.id, -31);
    expect(below.status).toBe(409);
    expect((await account(c.id)).balance).toBe(30);
    const rows = await h.deps.knex('audit_log').where({ action: 'loyalty.adjusted', subject: c.id });
    expect(rows).toHaveLength(1);
    expect(rows[0].data).toMatchObject({ points: 30, reason: 'welcome gift', before: 0, after: 30 });
  });

  it('shows points payments as their own method in the daily report', async () => {
    const c = await newCustomer();
    await adjust(c.id, 100);
    const before = (await h.api('GET', '/api/v1/reports/daily', { token: manager })).body.byMethod.loyalty;
    const o = await orderFor(c.id);
    const paid = await payPoints(o.id, 100);
    await payCash(paid.body.order);
    await persisted(o.id);
    const report = await until(
      async () => (await h.api('GET', '/api/v1/reports/daily', { token: manager })).body,
      (r) => r.byMethod.loyalty > before,
    );
    expect(report.byMethod.loyalty - before).toBe(500);
  });
});
