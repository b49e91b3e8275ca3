import { randomUUID } from 'node:crypto';
import { paymentSuite } from './support/payment-suite';
import { openScriptedOrder, until, stripeEvent, stripeSignature } from './support/payments';
import { startStripeSimulator, type GatewayScript } from '../simulators/stripe';
import { createStripeGateway } from '../activities/payments/stripe';

/**
 * Stripe card payments end to end: HTTP API → checkout → payment child workflow → the Stripe
 * simulator (stripe-mock behind a stateful proxy) on loopback → signed webhooks to
 * /webhooks/stripe → order closes.
 */
const suite = paymentSuite({
  start: () => startStripeSimulator(),
  gateways: (sim) => ({ stripe: createStripeGateway(sim.config({ timeoutMs: 1_000 })) }),
  webhookPath: '/webhooks/stripe',
  currency: 'USD',
  firstPrice: 1000,
});
const { nextPrice, order, payment, settled, closed, withoutWebhooks } = suite;
const openOrder = suite.openOrderAt;

const READER = 'tmr_FDOt2wlRZEdpd7';

/** An order at a fresh price whose payment of that price follows `script`. */
const scriptedOrder = (script?: GatewayScript) =>
  openScriptedOrder(suite.h, suite.cashier, suite.sim, nextPrice(), script);

const payCard = (orderId: string, body: Record<string, unknown>) =>
  suite.pay(orderId, { method: 'card', provider: 'stripe', ...body });

const intentsFor = (paymentId: string) =>
  suite.sim.paymentIntents().filter((pi: any) => pi.metadata?.paymentId === paymentId);
const webhooksFor = (reference: string) => suite.sim.webhooks().filter((w) => w.body.includes(reference));

function postWebhook(
  event: unknown,
  signature: ((body: string) => string) | null = (b) => stripeSignature(b, suite.sim.webhookSecret),
) {
  const raw = JSON.stringify(event);
  return suite.h.api('POST', '/webhooks/stripe', {
    raw,
    headers: signature ? { 'stripe-signature': signature(raw) } : {},
  });
}

describe('Stripe card payments', () => {
  it('charges on the reader: 202 present_card, then the webhook closes the order', async () => {
    const { o, price } = await scriptedOrder({ outcome: 'success', outcomeDelayMs: 300 });
    const res = await payCard(o.id, { amount: price, deviceId: READER });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      method: 'card',
      provider: 'stripe',
      status: 'pending',
      amount: price,
      tip: 0,
      fee: 0,
      sandbox: true,
      action: { type: 'present_card' },
    });
    expect(res.body.reference).toMatch(/^pi_/);

    const done = await closed(o.id);
    expect(done.payments[0]).toMatchObject({ status: 'succeeded', reference: res.body.reference });
    expect(done.totals).toMatchObject({ paid: price, balance: 0 });
    const row = await until(
      () => suite.h.deps.knex('payments').where({ id: res.body.id }).first(),
      (r) => r?.status === 'succeeded',
    );
    expect(row.receipt).toMatch(/^ch_/);
    const [pi] = intentsFor(res.body.id);
    expect(pi).toMatchObject({
      id: res.body.reference,
      amount: price,
      currency: 'usd',
      status: 'succeeded',
      metadata: { orderId: o.id, readerId: READER },
    });
    expect(webhooksFor(res.body.reference).find((w) => w.type === 'payment_intent.succeeded')).toMatchObject({
      status: 200,
    });
  });

  it('settles a card-not-present payment (payment method confirmed) at once: 201', async () => {
    const { o, price } = await scriptedOrder();
    const res = await payCard(o.id, { amount: price, sourceId: 'pm_card_visa' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', amount: price });
    expect(res.body.reference).toMatch(/^pi_/);
    await closed(o.id);
    expect(intentsFor(res.body.id)).toEqual([
      expect.objectContaining({ status: 'succeeded', amount_received: price, payment_method: 'pm_card_visa' }),
    ]);
  });

  it('reports a decline in words and leaves the balance due (reader, then card-not-present)', async () => {
    const a = await scriptedOrder({ outcome: 'decline', outcomeDelayMs: 300 });
    const res = await payCard(a.o.id, { amount: a.price, deviceId: READER });
    expect(res.status).toBe(202);
    const p = await settled(a.o.id, res.body.id);
    expect(p.status).toBe('failed');
    expect(p.failureReason).toMatch(/insufficient funds/i);
    expect(await order(a.o.id)).toMatchObject({ status: 'open', totals: { paid: 0, balance: a.price } });

    // A declined payment method answers at once; the customer then pays with another card.
    const b = await scriptedOrder();
    const declined = await payCard(b.o.id, { amount: b.price, sourceId: 'pm_card_chargeDeclined' });
    expect(declined.status).toBe(402);
    expect(declined.body).toMatchObject({ code: 'PAYMENT_FAILED', status: 'failed' });
    expect(declined.body.failureReason).toMatch(/declined|insufficient/i);
    expect(declined.body.order.totals.balance).toBe(b.price);
    const retry = await payCard(b.o.id, { amount: b.price, sourceId: 'pm_card_visa' });
    expect(retry.body.status).toBe('succeeded');
    await closed(b.o.id);
  });

  it('learns the outcome from Stripe when the reader request times out (success, then decline)', async () => {
    await withoutWebhooks(async () => {
      const a = await scriptedOrder({ outcome: 'timeout', afterTimeout: 'success' });
      const ok = await payCard(a.o.id, { amount: a.price, deviceId: READER });
      expect([201, 202]).toContain(ok.status);
      expect((await settled(a.o.id, ok.body.id)).status).toBe('succeeded');
      await closed(a.o.id);
      expect(intentsFor(ok.body.id)).toHaveLength(1);

      const b = await scriptedOrder({ outcome: 'timeout', afterTimeout: 'decline' });
      const ko = await payCard(b.o.id, { amount: b.price, deviceId: READER });
      const p = await settled(b.o.id, ko.body.id);
      expect(p.status).toBe('failed');
      expect(p.failureReason).toMatch(/insufficient funds/i);
      expect((await order(b.o.id)).totals.balance).toBe(b.price);
      expect(intentsFor(ko.body.id)).toHaveLength(1);
    });
  });

  it('asks Stripe when no webhook comes (status query success, then failure)', async () => {
    await withoutWebhooks(async () => {
      const a = await scriptedOrder({ outcome: 'success', outcomeDelayMs: 300 });
      const ok = await payCard(a.o.id, { amount: a.price, deviceId: READER });
      expect(ok.status).toBe(202);
      expect((await settled(a.o.id, ok.body.id)).status).toBe('succeeded');
      await closed(a.o.id);

      const b = await scriptedOrder({ outcome: 'decline', outcomeDelayMs: 300 });
      const ko = await payCard(b.o.id, { amount: b.price, deviceId: READER });
      expect(ko.status).toBe(202);
      const p = await settled(b.o.id, ko.body.id);
      expect(p).toMatchObject({ status: 'failed' });
      expect(p.failureReason).toMatch(/insufficient funds/i);
      expect((await order(b.o.id)).status).toBe('open');
    });
  });

  it('counts a duplicated webhook once', async () => {
    const { o, price } = await scriptedOrder({ outcome: 'success', outcomeDelayMs: 200, duplicateWebhook: true });
    const res = await payCard(o.id, { amount: price, deviceId: READER });
    const done = await closed(o.id);
    expect(done.payments).toHaveLength(1);
    expect(done.totals).toMatchObject({ paid: price, balance: 0 });
    const deliveries = await until(
      () => Promise.resolve(webhooksFor(res.body.reference).filter((w) => w.type === 'payment_intent.succeeded')),
      (ds) => ds.length === 2 && ds.every((d) => d.status !== 0),
    );
    expect(deliveries.map((d) => d.status)).toEqual([200, 200]);
    expect(deliveries[0].eventId).toBe(deliveries[1].eventId);
    expect(await suite.h.deps.knex('payments').where({ order_id: o.id })).toHaveLength(1);
  });

  it('takes a webhook that arrives before the reader request returns', async () => {
    const { o, price } = await scriptedOrder({ outcome: 'success', webhookBeforeResponse: true });
    const res = await payCard(o.id, { amount: price, deviceId: READER });
    expect([201, 202]).toContain(res.status);
    const done = await closed(o.id);
    expect(done.payments).toEqual([expect.objectContaining({ id: res.body.id, status: 'succeeded' })]);
    expect(webhooksFor(res.body.reference).find((w) => w.type === 'payment_intent.succeeded')).toMatchObject({
      status: 200,
    });
  });

  it('refunds automatically a success that lands while the payment is being cancelled, and flags it', async () => {
    const { o, price } = await scriptedOrder({ outcome: 'abandon', lateSuccessAfterCancel: true });
    const res = await payCard(o.id, { amount: price, deviceId: READER });
    expect(res.status).toBe(202);
    const cancelled = await suite.h.api('DELETE', `/api/v1/orders/${o.id}/payments/${res.body.id}`, {
      token: suite.cashier,
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled' });
    expect(cancelled.body.order.totals.balance).toBe(price);

    const flagged = await until(
      () => payment(o.id, res.body.id),
      (p) => /refund/.test(p.failureReason ?? ''),
    );
    expect(flagged).toMatchObject({ status: 'cancelled', autoRefunded: true });
    expect(flagged.failureReason).toMatch(/refunded automatically/);
    const row = await until(
      () => suite.h.deps.knex('payments').where({ id: res.body.id }).first(),
      (r) => /refunded automatically/.test(r?.failure_reason ?? ''),
    );
    expect(row.status).toBe('cancelled');
    const refunds = suite.sim.refunds().filter((r: any) => r.payment_intent === res.body.reference);
    expect(refunds).toEqual([expect.objectContaining({ amount: price, status: 'succeeded' })]);
    expect(await order(o.id)).toMatchObject({ status: 'open', totals: { paid: 0, balance: price } });
  });

  it('recovers from Stripe 5xx without charging twice', async () => {
    const creates = () => suite.sim.requests().filter((r) => r === 'POST /v1/payment_intents').length;
    const before = creates();
    const { o, price } = await scriptedOrder({ outcome: 'success', outcomeDelayMs: 100, fail5xx: 2 });
    const res = await payCard(o.id, { amount: price, deviceId: READER });
    expect(res.body.method).toBe('card');
    await closed(o.id);
    expect(creates() - before).toBe(3); // two 500s, one create
    expect(intentsFor(res.body.id)).toEqual([expect.objectContaining({ status: 'succeeded', amount_received: price })]);
  });

  it('answers 401 to a bad signature and changes nothing', async () => {
    const { o, price } = await scriptedOrder({ outcome: 'abandon' });
    const res = await payCard(o.id, { amount: price, deviceId: READER });
    expect(res.status).toBe(202);
    const [pi] = intentsFor(res.body.id);
    const forged = stripeEvent('payment_intent.succeeded', { ...pi, status: 'succeeded', amount_received: price });
    for (const signature of [
      (b: string) => stripeSignature(b, 'whsec_not_the_secret'),
      null,
      (b: string) => stripeSignature(b, suite.sim.webhookSecret, Math.floor(Date.now() / 1000) - 3600),
    ]) {
      const r = await postWebhook(forged, signature);
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('UNAUTHENTICATED');
    }
    await new Promise((r) => setTimeout(r, 600)); // past the callback wait: the status query still says pending
    expect(await payment(o.id, res.body.id)).toMatchObject({ status: 'pending' });
    expect((await order(o.id)).totals.paid).toBe(0);
    const cancelled = await suite.h.api('DELETE', `/api/v1/orders/${o.id}/payments/${res.body.id}`, {
      token: suite.cashier,
    });
    expect(cancelled.body.status).toBe('cancelled');
    // The payment workflow cancelled the PaymentIntent at Stripe and recorded it.
    await until(
      () => suite.h.deps.knex('payments').where({ id: res.body.id }).first(),
      (r) => r?.status === 'cancelled',
    );
    expect(intentsFor(res.body.id)).toEqual([expect.objectContaining({ status: 'canceled', amount_received: 0 })]);
  });

  it('answers 404 to a webhook for an unknown payment and 200 to events it does not use', async () => {
    const pi = {
      id: 'pi_3UnknownToTillflow',
      object: 'payment_intent',
      amount: 500,
      amount_received: 500,
      currency: 'usd',
      status: 'succeeded',
      latest_charge: 'ch_x',
      last_payment_error: null,
      metadata: { paymentId: randomUUID() },
    };
    const unknown = await postWebhook(stripeEvent('payment_intent.succeeded', pi));
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NOT_FOUND');
    const foreign = await postWebhook(
      stripeEvent('payment_intent.succeeded', { ...pi, metadata: { paymentId: 'order-17 from another app' } }),
    );
    expect(foreign.status).toBe(404);
    const unused = await postWebhook(stripeEvent('customer.created', { id: 'cus_123', object: 'customer' }));
    expect(unused.status).toBe(200);
  });

  it('adds the card fee from the settings and the tip, and charges them', async () => {
    const manager = await suite.h.login('2345');
    const fee = await suite.h.api('PUT', '/api/v1/settings', {
      token: manager,
      body: { cardFee: { enabled: true, rate: 300, min: 50 } },
    });
    expect(fee.status).toBe(200);
    let o: any;
    const price = nextPrice() + 1000; // 3 % of it is above the 50 minimum
    try {
      o = await openOrder(price);
    } finally {
      await suite.h.api('PUT', '/api/v1/settings', { token: manager, body: { cardFee: { enabled: false } } });
    }
    const cardFee = Math.round((price * 300) / 10_000);
    const tip = 300;
    suite.sim.script(price + tip + cardFee, { outcome: 'success', outcomeDelayMs: 300 });
    const res = await payCard(o.id, { amount: price, tip, deviceId: READER });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ amount: price, tip, fee: cardFee });
    const done = await closed(o.id);
    expect(done.totals).toMatchObject({
      cardFee,
      tip,
      total: price + tip + cardFee,
      paid: price + tip + cardFee,
      balance: 0,
    });
    expect(intentsFor(res.body.id)).toEqual([
      expect.objectContaining({ amount: price + tip + cardFee, amount_received: price + tip + cardFee }),
    ]);
    const row = await suite.h.deps.knex('payments').where({ id: res.body.id }).first();
    expect(row).toMatchObject({ amount: price, tip, fee: cardFee, status: 'succeeded' });
  });

  it('splits one order across a card and cash', async () => {
    const price = nextPrice() + 2000;
    const o = await openOrder(price);
    const card = await payCard(o.id, { amount: price - 1000, sourceId: 'pm_card_visa' });
    expect(card.body.status).toBe('succeeded');
    expect(
      (
        await until(
          () => order(o.id),
          (s) => s.totals.paid === price - 1000,
        )
      ).totals.balance,
    ).toBe(1000);
    const cash = await suite.pay(o.id, { method: 'cash', amount: 1000, tendered: 1000 });
    expect(cash.status).toBe(201);
    expect(cash.body.order.status).toBe('closed');
    expect(cash.body.order.payments.map((p: any) => [p.method, p.status])).toEqual([
      ['card', 'succeeded'],
      ['cash', 'succeeded'],
    ]);
  });
});
