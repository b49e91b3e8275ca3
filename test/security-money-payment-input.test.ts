/**
 * Attacks on payment input: a card payment that cannot work, a gateway failure a client could
 * take for success, and a payment posted without the Idempotency-Key that makes a retry safe.
 */
import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { withoutTrace } from './support/order-state';
import { PAYMENT_TEST_TIMING, openOrderAtPrice, postPayment, setShopCurrency } from './support/payments';
import { startStripeSimulator, StripeSim } from '../simulators/stripe';
import { createStripeGateway } from '../activities/payments/stripe';

let h: Harness;
let sim: StripeSim;
let cashier: string;
let priceSeq = 5000;

beforeAll(async () => {
  sim = await startStripeSimulator();
  h = await startHarness({
    env: PAYMENT_TEST_TIMING,
    gateways: { stripe: createStripeGateway(sim.config({ timeoutMs: 1_000 })) },
  });
  sim.setWebhookUrl(h.baseUrl + '/webhooks/stripe');
  await setShopCurrency(h, 'USD');
  cashier = await h.login('3456');
}, 120_000);
afterAll(async () => {
  await h?.close();
  await sim?.close();
});

const openOrder = () => openOrderAtPrice(h, cashier, (priceSeq += 10));

function expect422(res: { status: number; body: any }, path: string): void {
  if (res.status !== 422) throw new Error(`expected 422, got ${res.status}: ${JSON.stringify(res.body)}`);
  expect(res.body.code).toBe('VALIDATION_ERROR');
  expect(res.body.errors.map((e: any) => e.path)).toContain(path);
}

describe('card payments that cannot work', () => {
  it.each([
    ['neither deviceId nor sourceId', {}],
    ['an empty deviceId', { deviceId: '' }],
  ])('with %s are 422 and write nothing', async (_name, extra) => {
    const o = await openOrder();
    await withoutTrace(h, o.id, async () => {
      expect422(
        await postPayment(h, cashier, o.id, { method: 'card', provider: 'stripe', amount: o.totals.balance, ...extra }),
        'deviceId',
      );
    });
    const after = await h.api('GET', `/api/v1/orders/${o.id}`, { token: cashier });
    expect(after.body.payments).toEqual([]);
  });
});

describe('a payment the gateway declines', () => {
  it('is answered 402 PAYMENT_FAILED with the failed payment and the order, never as settled', async () => {
    const o = await openOrder();
    const res = await postPayment(h, cashier, o.id, {
      method: 'card',
      provider: 'stripe',
      amount: o.totals.balance,
      sourceId: 'pm_card_chargeDeclined',
    });
    expect(res.status).toBe(402);
    expect(res.body).toMatchObject({
      code: 'PAYMENT_FAILED',
      detail: expect.any(String),
      timestamp: expect.any(String),
      status: 'failed',
      id: expect.any(String),
    });
    expect(res.body.order.totals.balance).toBe(o.totals.balance);
  });

  it('is answered 402 again, with the same payment, when the request is repeated with its Idempotency-Key', async () => {
    const o = await openOrder();
    const key = randomUUID();
    const body = { method: 'card', provider: 'stripe', amount: o.totals.balance, sourceId: 'pm_card_chargeDeclined' };
    const first = await postPayment(h, cashier, o.id, body, key);
    const again = await postPayment(h, cashier, o.id, body, key);
    expect([first.status, again.status]).toEqual([402, 402]);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.order.payments).toHaveLength(1);
  });
});

describe('Idempotency-Key on POST /api/v1/orders/:id/payments', () => {
  it('is required: without it the payment is 422 naming the header and nothing is written', async () => {
    const o = await openOrder();
    await withoutTrace(h, o.id, async () => {
      const res = await h.api('POST', `/api/v1/orders/${o.id}/payments`, {
        token: cashier,
        body: { method: 'cash', amount: o.totals.balance, tendered: o.totals.balance },
      });
      expect422(res, 'Idempotency-Key');
    });
  });

  it('is declared required in the OpenAPI spec, with the 402 answer', async () => {
    const spec = (await h.api('GET', '/openapi.json')).body;
    const op = spec.paths['/api/v1/orders/{id}/payments'].post;
    expect(op.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true })]),
    );
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['201', '202', '402']));
  });
});
