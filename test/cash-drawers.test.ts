/** Cash drawer sessions over HTTP: float, paid-in/out, cash payments and refunds counted in, close with over/short. */
import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { postPayment, until } from './support/payments';

let h: Harness;
let cashier: string;
let manager: string;

beforeAll(async () => {
  h = await startHarness({ printingWorker: false });
  [cashier, manager] = await Promise.all([h.login('3456'), h.login('2345')]);
  await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ auto_print_kitchen: false, tax_rate: 0 });
});
afterAll(async () => h?.close());

const sessions = (drawer: string) => `/api/v1/drawers/${drawer}/sessions`;

async function cashSale(): Promise<{ orderId: string; total: number }> {
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Burger'], quantity: 1 }] },
  });
  const total = created.body.totals.total;
  const paid = await postPayment(h, cashier, created.body.id, { method: 'cash', amount: total, tendered: total + 500 });
  expect(paid.body.order.status).toBe('closed');
  // Refunds of a closed order wait for its closing transaction (409 "still closing" before it).
  await until(
    () => h.deps.knex('orders').where({ id: created.body.id }).first('persisted_at'),
    (r) => !!r?.persisted_at,
  );
  return { orderId: created.body.id, total };
}

it('allows one open session per drawer (409 for a second)', async () => {
  expect((await h.api('POST', sessions('bar'), { token: cashier, body: { float: 5000 } })).status).toBe(201);
  const second = await h.api('POST', sessions('bar'), { token: cashier, body: { float: 100 } });
  expect(second.status).toBe(409);
  expect(second.body.code).toBe('CONFLICT');
});

it('counts float, paid-in/out, cash payments and cash refunds, and closes with over/short shown in the daily report', async () => {
  const opened = await h.api('POST', sessions('main'), { token: cashier, body: { float: 10000 } });
  expect(opened.status).toBe(201);
  const id = opened.body.id;
  expect(
    (
      await h.api('POST', `${sessions('main')}/${id}/movements`, {
        token: cashier,
        body: { type: 'paid_out', amount: 1500, reason: 'milk from the shop' },
      })
    ).status,
  ).toBe(201);
  expect(
    (
      await h.api('POST', `${sessions('main')}/${id}/movements`, {
        token: cashier,
        body: { type: 'paid_in', amount: 200, reason: 'change top-up' },
      })
    ).status,
  ).toBe(201);
  const sale = await cashSale();
  const refund = await h.api('POST', `/api/v1/orders/${sale.orderId}/refunds`, {
    token: manager,
    body: { reason: 'goodwill', amount: 300 },
    headers: { 'idempotency-key': randomUUID() },
  });
  expect(refund.status).toBe(201);

  const expected = 10000 - 1500 + 200 + sale.total - 300;
  const live = await until(
    () => h.api('GET', sessions('main'), { token: cashier }),
    (r) => r.body.sessions[0]?.expected === expected,
  );
  expect(live.body.sessions[0].movements.map((m: any) => m.type).sort()).toEqual([
    'cash_payment',
    'cash_refund',
    'paid_in',
    'paid_out',
  ]);

  const closed = await h.api('POST', `${sessions('main')}/${id}/close`, {
    token: cashier,
    body: { counted: expected - 250 },
  });
  expect(closed.status).toBe(200);
  expect(closed.body).toMatchObject({ status: 'closed', expected, counted: expected - 250, overShort: -250 });
  expect(
    (
      await h.api('POST', `${sessions('main')}/${id}/movements`, {
        token: cashier,
        body: { type: 'paid_in', amount: 1, reason: 'late' },
      })
    ).status,
  ).toBe(409);

  const report = await h.api('GET', '/api/v1/reports/daily', { token: manager });
  expect(report.body.drawers).toContainEqual({
    drawerId: 'main',
    sessionId: id,
    float: 10000,
    expected,
    counted: expected - 250,
    overShort: -250,
  });
  const audited = await h.deps.knex('audit_log').where({ subject: id }).orderBy('id').pluck('action');
  expect(audited).toEqual(['drawer.opened', 'drawer.paid_out', 'drawer.paid_in', 'drawer.closed']);
});
