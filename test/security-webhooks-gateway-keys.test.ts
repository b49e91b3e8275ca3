import { startHarness, Harness } from './support/harness';
import {
  PAYMENT_TEST_TIMING,
  openOrderAtPrice,
  setShopCurrency,
  until,
  waitForOrderClosed,
  postPayment,
} from './support/payments';
import { startSquareSimulator, SquareSim } from '../simulators/square';
import { createSquareGateway, squareIdempotencyKey } from '../activities/payments/square';

/**
 * Square refuses an idempotency_key longer than 45 characters (Payments, Refunds; 64 for Terminal
 * checkouts) with VALUE_TOO_LONG, and the simulator does too. Our workflow-derived keys
 * (`payment-<uuid>-<n>` is 46, `auto-refund-…` 58) are turned into one short deterministic key
 * per operation, so a card payment and its automatic refund go through.
 */
let h: Harness;
let sim: SquareSim;
let cashier: string;
let price = 5000;
const TERMINAL = 'device:995CS397A6475287';

beforeAll(async () => {
  sim = await startSquareSimulator();
  const cfg = sim.config({ timeoutMs: 1_000, webhookUrl: '' });
  h = await startHarness({ env: PAYMENT_TEST_TIMING, gateways: { square: createSquareGateway(cfg) } });
  cfg.webhookUrl = `${h.baseUrl}/webhooks/square`;
  sim.setWebhookUrl(cfg.webhookUrl);
  await setShopCurrency(h, 'USD');
  cashier = await h.login('3456');
}, 120_000);
afterAll(async () => {
  await h?.close();
  await sim?.close();
});

const payCard = (orderId: string, body: Record<string, unknown>) =>
  postPayment(h, cashier, orderId, { method: 'card', provider: 'square', ...body });

it('derives one key per operation, at most 45 characters, the same for the same workflow', () => {
  const workflowId = 'payment-0b6f7c1e-8d2a-4f5b-9c3e-1a2b3c4d5e6f-12';
  const keys = ['create', 'refund'].map((op) => squareIdempotencyKey(workflowId, op));
  for (const k of keys) expect(k.length).toBeLessThanOrEqual(45);
  expect(new Set(keys).size).toBe(2);
  expect(squareIdempotencyKey(workflowId, 'create')).toBe(keys[0]);
  expect(squareIdempotencyKey(workflowId.replace(/12$/, '13'), 'create')).not.toBe(keys[0]);
});

it('charges a card-not-present payment with a key Square accepts', async () => {
  price += 10;
  const o = await openOrderAtPrice(h, cashier, price);
  const res = await payCard(o.id, { amount: price, sourceId: 'cnon:card-nonce-ok' });
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ status: 'succeeded', amount: price });
  await waitForOrderClosed(h, cashier, o.id);
});

it('refunds a success that lands while the checkout is cancelled, with a key Square accepts', async () => {
  price += 10;
  sim.script(price, { outcome: 'abandon', lateSuccessAfterCancel: true });
  const o = await openOrderAtPrice(h, cashier, price);
  const res = await payCard(o.id, { amount: price, deviceId: TERMINAL });
  expect(res.status).toBe(202);
  const cancelled = await h.api('DELETE', `/api/v1/orders/${o.id}/payments/${res.body.id}`, { token: cashier });
  expect(cancelled.status).toBe(200);
  const row = await until(
    () => h.deps.knex('payments').where({ id: res.body.id }).first(),
    (r) => r?.status !== 'pending' && /refund/.test(r?.failure_reason ?? ''),
  );
  expect(row.failure_reason).toMatch(/refunded automatically/);
  const [checkout] = sim.checkouts().filter((c: any) => c.reference_id === res.body.id);
  expect(sim.refunds().filter((r: any) => r.payment_id === (checkout.payment_ids as string[])[0])).toEqual([
    expect.objectContaining({ amount_money: { amount: price, currency: 'USD' }, status: 'COMPLETED' }),
  ]);
});

it('refunds a gateway-reported amount mismatch only up to the payment amount', async () => {
  price += 10;
  sim.script(price, { outcome: 'success', outcomeDelayMs: 200, overcharge: price });
  const o = await openOrderAtPrice(h, cashier, price);
  const res = await payCard(o.id, { amount: price, deviceId: TERMINAL });
  expect(res.status).toBe(202);
  const row = await until(
    () => h.deps.knex('payments').where({ id: res.body.id }).first(),
    (r) => r?.status === 'failed',
  );
  expect(row.failure_reason).toMatch(/amount mismatch/);
  const [checkout] = sim.checkouts().filter((c: any) => c.reference_id === res.body.id);
  const refunds = await until(
    async () => sim.refunds().filter((r: any) => r.payment_id === (checkout.payment_ids as string[])[0]),
    (r) => r.length > 0,
  );
  expect(refunds).toEqual([expect.objectContaining({ amount_money: { amount: price, currency: 'USD' } })]);
});
