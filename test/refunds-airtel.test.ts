import { randomUUID } from 'node:crypto';
import type { Harness } from './support/harness';
import { until } from './support/payments';
import { paidPhoneOrder, startKesSandboxShop } from './support/phone-shop';

/** An Airtel Money refund still in progress is settled by Airtel's transaction enquiry of the refund (no callback needed). */
let h: Harness;
let cashier: string;
let manager: string;

beforeAll(async () => {
  ({ h, cashier, manager } = await startKesSandboxShop());
}, 120_000);
afterEach(() => h.simulators.airtel!.scriptRefunds(undefined));
afterAll(async () => h?.close());

const airtelOrder = () => paidPhoneOrder(h, cashier, 'airtel', '254733123456');

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
