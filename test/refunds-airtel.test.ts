import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { PAYMENT_TEST_TIMING, setShopCurrency, until } from './support/payments';

/** An Airtel Money refund still in progress is settled by Airtel's transaction enquiry of the refund (no callback needed). */
let h: Harness;
let cashier: string;
let manager: string;

beforeAll(async () => {
  h = await startHarness({ sandboxPayments: true, env: PAYMENT_TEST_TIMING });
  await setShopCurrency(h, 'KES');
  await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price: 1000 });
  cashier = await h.login('3456');
  manager = await h.login('2345');
}, 120_000);
afterEach(() => h.simulators.airtel!.scriptRefunds(undefined));
afterAll(async () => h?.close());

async function airtelOrder(): Promise<any> {
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Burger'], quantity: 1 }] },
  });
  const res = await h.api('POST', `/api/v1/orders/${created.body.id}/payments`, {
    token: cashier,
    body: { method: 'airtel', amount: 1000, phone: '254733123456' },
    headers: { 'idempotency-key': randomUUID() },
  });
  expect(res.status).toBe(202);
  await until(
    () => h.deps.knex('orders').where({ id: created.body.id }).first('persisted_at'),
    (r) => !!r?.persisted_at,
  );
  await h.deps.temporal.workflow.getHandle(`order-${created.body.id}`).result();
  return created.body;
}

it('a refund Airtel answers as in progress succeeds once its enquiry says so, refunded once', async () => {
  const o = await airtelOrder();
  h.simulators.airtel!.scriptRefunds({ pendingQueries: 2 });
  const res = await h.api('POST', `/api/v1/orders/${o.id}/refunds`, {
    token: manager,
    body: { reason: 'whole' },
    headers: { 'idempotency-key': randomUUID() },
  });
  expect(res.status).toBe(202);
  expect(res.body).toMatchObject({ method: 'airtel', status: 'pending' });
  const done = await until(
    () => h.api('GET', `/api/v1/refunds/${res.body.id}`, { token: manager }).then((r) => r.body),
    (r) => r.status !== 'pending',
  );
  expect(done).toMatchObject({ status: 'succeeded', amount: 1000 });
  const sent = [...h.simulators.airtel!.refunds.values()].filter((r) => r.id === `refund-${res.body.id}`);
  expect(sent).toHaveLength(1);
  expect(sent[0]).toMatchObject({ status: 'TS', requests: 1 });
  const after = await until(
    () => h.api('GET', `/api/v1/orders/${o.id}`, { token: cashier }).then((r) => r.body),
    (b) => b.status !== 'closed',
  );
  expect(after).toMatchObject({ status: 'refunded', totals: { refunded: 1000 } });
});
