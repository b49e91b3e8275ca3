import { createHmac, randomUUID } from 'node:crypto';
import { STRIPE_API_VERSION } from '../../activities/payments/stripe';
import type { GatewayScript } from '../../simulators/stripe';
import type { Harness } from './harness';

/**
 * Shared plumbing for the payments-* end-to-end tests: each helper takes the harness and the
 * cashier's token explicitly, so a test file keeps its own setup (simulator, gateway, prices).
 */

/** Short payment timings, so callbacks, polls, expiry and the late window fit in a test. */
export const PAYMENT_TEST_TIMING = {
  TILLFLOW_PAYMENT_CALLBACK_WAIT_MS: '400',
  TILLFLOW_PAYMENT_POLL_MS: '100',
  TILLFLOW_PAYMENT_POLL_MAX_MS: '300',
  TILLFLOW_PAYMENT_EXPIRE_MS: '4000',
  TILLFLOW_PAYMENT_LATE_WINDOW_MS: '4000',
};

/** Calls fn every 100 ms until ok accepts its value; throws with the last value after timeoutMs. */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The shop's location: this currency, no tax, no kitchen tickets. */
export async function setShopCurrency(h: Harness, currency: string): Promise<void> {
  await h.deps
    .knex('locations')
    .where({ id: h.shop.locationId })
    .update({ currency, tax_rate: 0, auto_print_kitchen: false });
}

/** Opens a takeaway order of `quantity` Burgers at the Burger's current price. */
export async function openBurgerOrder(h: Harness, token: string, quantity = 1): Promise<any> {
  const res = await h.api('POST', '/api/v1/orders', {
    token,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Burger'], quantity }] },
  });
  expect(res.status).toBe(201);
  return res.body;
}

/** An order of one Burger at `price` (the price is set on the item before the order takes it). */
export async function openOrderAtPrice(h: Harness, token: string, price: number): Promise<any> {
  await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price });
  const res = await openBurgerOrder(h, token);
  expect(res.totals.balance).toBe(price);
  return res;
}

/** An order at `price` whose payment of that amount follows `script` at a simulator keyed by amount. */
export async function openScriptedOrder(
  h: Harness,
  token: string,
  sim: { script(match: number, s: GatewayScript): void },
  price: number,
  script?: GatewayScript,
): Promise<{ o: any; price: number }> {
  if (script) sim.script(price, script);
  return { o: await openOrderAtPrice(h, token, price), price };
}

/** POSTs a payment with an Idempotency-Key (required): a fresh one unless the test repeats one on purpose. */
export function postPayment(
  h: Harness,
  token: string,
  orderId: string,
  body: Record<string, unknown>,
  key: string = randomUUID(),
) {
  return h.api('POST', `/api/v1/orders/${orderId}/payments`, { token, body, headers: { 'Idempotency-Key': key } });
}

/** The order as the API shows it. */
export const fetchOrder = (h: Harness, token: string, orderId: string): Promise<any> =>
  h.api('GET', `/api/v1/orders/${orderId}`, { token }).then((r) => r.body);

/** One payment of an order, as the API shows it. */
export const fetchPayment = async (h: Harness, token: string, orderId: string, paymentId: string): Promise<any> =>
  (await fetchOrder(h, token, orderId)).payments.find((p: any) => p.id === paymentId);

/** Waits until the payment is no longer pending and returns it. */
export const waitForPaymentSettled = (h: Harness, token: string, orderId: string, paymentId: string): Promise<any> =>
  until(
    () => fetchPayment(h, token, orderId, paymentId),
    (p) => p.status !== 'pending',
  );

/** Waits until the order is closed and returns it. */
export const waitForOrderClosed = (h: Harness, token: string, orderId: string): Promise<any> =>
  until(
    () => fetchOrder(h, token, orderId),
    (s) => s.status === 'closed',
  );

/** The simulator sends no webhooks while fn runs (the payment learns its outcome by asking); then they go to `webhookUrl` again. */
export async function withoutWebhooks<T>(
  sim: { setWebhookUrl(url: string | undefined): void },
  webhookUrl: string,
  fn: () => Promise<T>,
): Promise<T> {
  sim.setWebhookUrl(undefined);
  try {
    return await fn();
  } finally {
    sim.setWebhookUrl(webhookUrl);
  }
}

/** A Stripe event envelope around `object`, as Stripe posts it to a webhook endpoint. */
export function stripeEvent(type: string, object: Record<string, unknown>) {
  return {
    id: `evt_${randomUUID().replace(/-/g, '')}`,
    object: 'event',
    api_version: STRIPE_API_VERSION,
    created: Math.floor(Date.now() / 1000),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

/** A Stripe-Signature header value for `body`, signed with `secret` at time `t` (seconds). */
export function stripeSignature(body: string, secret: string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest('hex')}`;
}

/** Waits until the workflow has run a workflow task after the last signal it received (its handlers have seen every signal). */
export async function signalsHandled(h: Harness, workflowId: string): Promise<void> {
  await until(
    async () => {
      const events = (await h.deps.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const lastSignal = events.map((e) => Boolean(e.workflowExecutionSignaledEventAttributes)).lastIndexOf(true);
      return events.slice(lastSignal + 1).some((e) => e.workflowTaskCompletedEventAttributes);
    },
    (done) => done,
  );
}
