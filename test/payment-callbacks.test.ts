import { createHash, randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { PAYMENT_TEST_TIMING, openBurgerOrder, setShopCurrency, until, waitForOrderClosed } from './support/payments';
import { startDarajaSimulator, DarajaSim, DARAJA_SIM_DEFAULTS } from '../simulators/daraja';
import { createMpesaGateway } from '../activities/payments/mpesa';

/**
 * Every callback a gateway sends is stored (time, source, verified, body digest, effect) and
 * shown per payment by GET /api/v1/payments/:id/callbacks, so reconciliation needs no logs.
 */
let h: Harness;
let sim: DarajaSim;
let cashier: string;
let manager: string;
let phoneSeq = 0;

beforeAll(async () => {
  sim = await startDarajaSimulator();
  const gateway = createMpesaGateway({ baseUrl: sim.url, ...DARAJA_SIM_DEFAULTS, sandbox: true });
  h = await startHarness({ env: PAYMENT_TEST_TIMING, gateways: { mpesa: gateway } });
  await setShopCurrency(h, 'KES');
  await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price: 1000 });
  cashier = await h.login('3456');
  manager = await h.login('2345');
});
afterAll(async () => {
  await h?.close();
  await sim?.close();
});

const newPhone = () => `2547${String(20_000_000 + ++phoneSeq).slice(-8)}`;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A pending M-Pesa payment whose push the simulator answers according to `script`. */
async function payMpesa(script: Parameters<DarajaSim['script']>[1]) {
  const o = await openBurgerOrder(h, cashier);
  const phone = newPhone();
  sim.script(phone, script);
  const res = await h.api('POST', `/api/v1/orders/${o.id}/payments`, {
    token: cashier,
    body: { method: 'mpesa', amount: 1000, phone },
    headers: { 'Idempotency-Key': randomUUID() },
  });
  expect([201, 202]).toContain(res.status);
  return { order: o, payment: res.body };
}

const callbacksOf = (paymentId: string, token = manager) =>
  h.api('GET', `/api/v1/payments/${paymentId}/callbacks`, { token });

it('lists a delivered callback and its repeat with source, verification, body digest and effect', async () => {
  const { order, payment } = await payMpesa({ outcome: 'success', duplicateCallback: true });
  await waitForOrderClosed(h, cashier, order.id);
  const res = await until(
    () => callbacksOf(payment.id),
    (r) => r.body.callbacks?.length >= 2,
  );
  expect(res.status).toBe(200);
  const [first, repeat] = res.body.callbacks;
  const sent = sim.callbacks
    .filter((c) => c.url.includes('/webhooks/mpesa/'))
    .find((c) => (c.body as any).Body.stkCallback.CheckoutRequestID === payment.reference)!;
  expect(first).toMatchObject({
    source: 'mpesa',
    verified: true,
    effect: 'delivered',
    reportedStatus: 'succeeded',
    paymentStatusBefore: 'pending',
    httpStatus: 200,
  });
  expect(first.bodySha256).toBe(sha256(JSON.stringify(sent.body)));
  expect(first.eventId).toBeTruthy();
  expect(repeat).toMatchObject({ effect: 'duplicate', eventId: first.eventId, bodySha256: first.bodySha256 });
});

it('stores a malformed callback on its payment URL as malformed (400)', async () => {
  const { payment } = await payMpesa({ outcome: 'timeout', resultCode: 1032 });
  const { callback_token: token } = await h.deps.knex('payments').where({ id: payment.id }).first('callback_token');
  const body = '{"Body": {"stkCallback": "not an object"}}';
  const res = await h.api('POST', `/webhooks/mpesa/${token}`, { raw: body });
  expect(res.status).toBe(400);
  const { body: list } = await callbacksOf(payment.id);
  expect(list.callbacks.find((c: any) => c.bodySha256 === sha256(body))).toMatchObject({
    verified: true,
    effect: 'malformed',
    httpStatus: 400,
    paymentStatusBefore: 'pending',
  });
});

it('stores a callback whose URL token names no payment, unverified and tied to none', async () => {
  const body = JSON.stringify({ probe: randomUUID() });
  const res = await h.api('POST', `/webhooks/mpesa/${'x'.repeat(24)}`, { raw: body });
  expect(res.status).toBe(404);
  const row = await h.deps
    .knex('webhook_receipts')
    .where({ body_sha256: sha256(body) })
    .first();
  expect(row).toMatchObject({
    gateway: 'mpesa',
    verified: false,
    payment_id: null,
    effect: 'unknown_payment',
    http_status: 404,
  });
});

it('refuses the callbacks to a cashier', async () => {
  const { payment } = await payMpesa({ outcome: 'timeout', resultCode: 1032 });
  expect((await callbacksOf(payment.id, cashier)).status).toBe(403);
});

it('answers 404 for a payment that does not exist', async () => {
  expect((await callbacksOf(randomUUID())).status).toBe(404);
});
