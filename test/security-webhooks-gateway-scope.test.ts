import { startHarness, Harness } from './support/harness';
import {
  PAYMENT_TEST_TIMING,
  fetchPayment,
  openOrderAtPrice,
  setShopCurrency,
  signalsHandled,
  waitForOrderClosed,
  postPayment,
} from './support/payments';
import { startSquareSimulator, SquareSim } from '../simulators/square';
import { startAirtelSimulator, AirtelSim, AIRTEL_SIM_DEFAULTS } from '../simulators/airtel';
import { randomUUID } from 'node:crypto';
import { createSquareGateway, signSquareWebhook } from '../activities/payments/square';
import { createAirtelGateway } from '../activities/payments/airtel';
import * as msg from '../core/messages';

/**
 * A webhook reaches only payments of its own gateway: Airtel's one portal URL
 * (/webhooks/airtel/<AIRTEL_CALLBACK_TOKEN>) finds payments by reference, and Airtel's reference
 * is our workflow id — which every other gateway's payment also has. A forged Airtel "paid"
 * naming a card payment's workflow id must not settle that card payment, and the payment
 * workflow itself ignores a gateway event that another gateway sent.
 */
let h: Harness;
let square: SquareSim;
let airtel: AirtelSim;
let cashier: string;
let price = 4000;

const CALLBACK_TOKEN = 'airtel-portal-callback-5d1e8c2a9f7b';
const TERMINAL = 'device:995CS397A6475287';

beforeAll(async () => {
  square = await startSquareSimulator();
  airtel = await startAirtelSimulator();
  const squareCfg = square.config({ timeoutMs: 1_000, webhookUrl: '' });
  const gateways = {
    square: createSquareGateway(squareCfg),
    airtel: createAirtelGateway({ baseUrl: airtel.url, ...AIRTEL_SIM_DEFAULTS, sandbox: true, timeoutMs: 2_000 }),
  };
  // Long expiry: the card payment stays pending for the whole test.
  h = await startHarness({
    env: { ...PAYMENT_TEST_TIMING, TILLFLOW_PAYMENT_EXPIRE_MS: '120000', AIRTEL_CALLBACK_TOKEN: CALLBACK_TOKEN },
    gateways,
  });
  squareCfg.webhookUrl = `${h.baseUrl}/webhooks/square`;
  square.setWebhookUrl(squareCfg.webhookUrl);
  await setShopCurrency(h, 'USD');
  cashier = await h.login('3456');
}, 120_000);
afterAll(async () => {
  await h?.close();
  await square?.close();
  await airtel?.close();
});

/** A Square Terminal payment the customer never completes: pending until cancelled. */
async function pendingCardPayment(): Promise<{ orderId: string; payment: any }> {
  price += 10;
  square.script(price, { outcome: 'abandon' });
  const o = await openOrderAtPrice(h, cashier, price);
  const res = await postPayment(h, cashier, o.id, {
    method: 'card',
    provider: 'square',
    amount: price,
    deviceId: TERMINAL,
  });
  expect(res.status).toBe(202);
  return { orderId: o.id, payment: res.body };
}

/**
 * Cancelling shows whether a forged success counted: untouched, the payment is simply cancelled;
 * had the success counted, it would be refunded (autoRefunded) or stay succeeded.
 */
async function expectPlainCancel(orderId: string, paymentId: string): Promise<void> {
  const res = await h.api('DELETE', `/api/v1/orders/${orderId}/payments/${paymentId}`, { token: cashier });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ status: 'cancelled', failureReason: 'cancelled' });
  expect(res.body.autoRefunded).toBeFalsy();
  expect(square.refunds()).toEqual([]);
}

const workflowIdOf = async (paymentId: string): Promise<string> =>
  (await h.deps.knex('payments').where({ id: paymentId }).first('workflow_id')).workflow_id;

it('answers 404 to an Airtel callback naming a card payment, which stays pending', async () => {
  const { orderId, payment } = await pendingCardPayment();
  const workflowId = await workflowIdOf(payment.id);
  const forged = await h.api('POST', `/webhooks/airtel/${CALLBACK_TOKEN}`, {
    body: { transaction: { id: workflowId, status_code: 'TS', message: 'Paid', airtel_money_id: 'MPFORGED' } },
  });
  expect(forged.status).toBe(404);
  expect(forged.body.code).toBe('NOT_FOUND');
  await signalsHandled(h, workflowId);
  expect(await fetchPayment(h, cashier, orderId, payment.id)).toMatchObject({ status: 'pending' });
  await expectPlainCancel(orderId, payment.id);
});

it('the payment workflow ignores a success signalled by another gateway', async () => {
  const { orderId, payment } = await pendingCardPayment();
  const workflowId = await workflowIdOf(payment.id);
  const handle = h.deps.temporal.workflow.getHandle(workflowId);
  await handle.signal(msg.gatewayEventSignal, {
    eventId: 'forged-1',
    gateway: 'airtel',
    status: 'succeeded',
    reference: payment.reference,
  });
  await signalsHandled(h, workflowId);
  expect(await handle.query(msg.paymentStateQuery)).toMatchObject({ status: 'pending' });
  expect(await fetchPayment(h, cashier, orderId, payment.id)).toMatchObject({ status: 'pending' });
  await expectPlainCancel(orderId, payment.id);
});

it('still settles an Airtel payment whose callback is matched by its workflow id', async () => {
  await setShopCurrency(h, 'KES');
  const o = await openOrderAtPrice(h, cashier, 1000);
  const phone = '254730009999';
  airtel.callbackUrl = `${h.baseUrl}/webhooks/airtel/${CALLBACK_TOKEN}`;
  airtel.script(phone, { outcome: 'success' });
  const res = await postPayment(h, cashier, o.id, { method: 'airtel', amount: 1000, phone });
  expect(res.status).toBe(202);
  const done = await waitForOrderClosed(h, cashier, o.id);
  expect(done.payments).toEqual([
    expect.objectContaining({ method: 'airtel', status: 'succeeded', reference: res.body.reference }),
  ]);
  await setShopCurrency(h, 'USD');
});

it('acknowledges and records a webhook for a payment whose workflow has ended', async () => {
  price += 10;
  const o = await openOrderAtPrice(h, cashier, price);
  const res = await postPayment(h, cashier, o.id, {
    method: 'card',
    provider: 'square',
    amount: price,
    sourceId: 'cnon:card-nonce-ok',
  });
  expect(res.body.status).toBe('succeeded');
  await h.deps.temporal.workflow.getHandle(await workflowIdOf(res.body.id)).result();

  const paid = square.payments().find((p: any) => p.id === res.body.reference)!;
  const event = {
    merchant_id: 'MLTEST',
    type: 'payment.updated',
    event_id: randomUUID(),
    created_at: new Date().toISOString(),
    data: { type: 'payment', id: paid.id, object: { payment: paid } },
  };
  const raw = JSON.stringify(event);
  const url = `${h.baseUrl}/webhooks/square`;
  const late = await h.api('POST', '/webhooks/square', {
    raw,
    headers: { 'x-square-hmacsha256-signature': signSquareWebhook(square.webhookSignatureKey, url, raw) },
  });
  expect(late.status).toBe(200);
  const audit = await h.deps.knex('audit_log').where({ action: 'payment.late_webhook', subject: res.body.id });
  expect(audit).toHaveLength(1);
  expect(audit[0].data).toMatchObject({ gateway: 'square', reference: paid.id, status: 'succeeded' });
});
