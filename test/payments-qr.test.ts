import { randomUUID } from 'node:crypto';
import { decodeQr } from './support/gateways';
import { paymentSuite } from './support/payment-suite';
import { openScriptedOrder, until, stripeEvent, stripeSignature } from './support/payments';
import { startStripeSimulator, type GatewayScript } from '../simulators/stripe';
import { createQrGateway, QR_MIN_EXPIRY_SECONDS } from '../activities/payments/qr';

/**
 * QR payments end to end: HTTP API → checkout → payment child workflow → a Stripe Checkout
 * Session at the Stripe simulator, shown as a QR code → the customer pays on the hosted page →
 * signed webhook to /webhooks/stripe → order closes. Only the QR gateway is configured here (no
 * Stripe card payments), as in a shop that takes QR but not cards.
 */
const suite = paymentSuite({
  // Unscripted sessions wait for the customer (who pays through the hosted page).
  start: () => startStripeSimulator({ defaultScript: { outcome: 'abandon' } }),
  gateways: (sim) => ({
    qr: createQrGateway(sim.config({ timeoutMs: 1_000 }), {
      successUrl: 'https://pos.example.com/qr/done',
      cancelUrl: 'https://pos.example.com/qr/cancelled',
    }),
  }),
  webhookPath: '/webhooks/stripe',
  currency: 'USD',
  firstPrice: 2000,
});
const { nextPrice, order, payment, settled, closed, withoutWebhooks } = suite;
const openOrder = suite.openOrderAt;

/** An order at a fresh price whose payment of that price follows `script`. */
const scriptedOrder = (script?: GatewayScript) =>
  openScriptedOrder(suite.h, suite.cashier, suite.sim, nextPrice(), script);

const payQr = (orderId: string, amount: number) => suite.pay(orderId, { method: 'qr', amount });

const sessionsFor = (paymentId: string) =>
  suite.sim.checkoutSessions().filter((s: any) => s.client_reference_id === paymentId);
const webhooksFor = (reference: string) => suite.sim.webhooks().filter((w) => w.body.includes(reference));

/** The customer scans the code, opens the hosted page and pays. */
async function customerPays(url: string): Promise<string> {
  const page = await fetch(url, { method: 'POST' });
  expect(page.status).toBe(200);
  return page.text();
}

function postWebhook(event: unknown, secret = suite.sim.webhookSecret) {
  const raw = JSON.stringify(event);
  return suite.h.api('POST', '/webhooks/stripe', {
    raw,
    headers: { 'stripe-signature': stripeSignature(raw, secret) },
  });
}

describe('QR payments (Stripe Checkout)', () => {
  it('shows a scannable code, and closes the order once the customer pays on the hosted page', async () => {
    const { o, price } = await scriptedOrder();
    const res = await payQr(o.id, price);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      method: 'qr',
      status: 'pending',
      amount: price,
      fee: 0,
      sandbox: true,
      action: { type: 'show_qr' },
    });
    const { url, image } = res.body.action;
    expect(url).toBe(`${suite.sim.url}/pay/${res.body.reference}`);
    expect(image).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
    expect(decodeQr(image)).toBe(url);
    const [session] = sessionsFor(res.body.id);
    expect(session).toMatchObject({
      id: res.body.reference,
      amount_total: price,
      currency: 'usd',
      status: 'open',
      metadata: { orderId: o.id },
    });
    // Stripe's shortest session lifetime; the workflow expires it sooner itself.
    expect(session.expires_at).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + QR_MIN_EXPIRY_SECONDS - 60);

    expect(await (await fetch(url)).text()).toContain((price / 100).toFixed(2));
    await customerPays(url);
    const done = await closed(o.id);
    expect(done.payments[0]).toMatchObject({ status: 'succeeded', reference: res.body.reference });
    const row = await until(
      () => suite.h.deps.knex('payments').where({ id: res.body.id }).first(),
      (r) => r?.status === 'succeeded',
    );
    expect(row.receipt).toMatch(/^pi_/);
    expect(webhooksFor(res.body.reference).find((w) => w.type === 'checkout.session.completed')).toMatchObject({
      status: 200,
    });
  });

  it('expires the code at Stripe → failed "expired", balance due, and the page no longer takes money', async () => {
    const { o, price } = await scriptedOrder();
    const res = await payQr(o.id, price);
    expect(res.status).toBe(202);
    suite.sim.advanceTime(3600); // past the session's own expires_at at Stripe
    const p = await settled(o.id, res.body.id);
    expect(p).toMatchObject({ status: 'failed', failureReason: 'expired' });
    expect(await order(o.id)).toMatchObject({ status: 'open', totals: { paid: 0, balance: price } });
    expect(await customerPays(res.body.action.url)).not.toContain('<form');
    expect(sessionsFor(res.body.id)).toEqual([
      expect.objectContaining({ status: 'expired', payment_status: 'unpaid' }),
    ]);
  });

  it('expires the code after the configured time when nobody pays', async () => {
    const { o, price } = await scriptedOrder();
    const res = await payQr(o.id, price);
    const started = Date.now();
    const p = await settled(o.id, res.body.id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_500); // TILLFLOW_PAYMENT_EXPIRE_MS
    expect(p.status).toBe('failed');
    expect(p.failureReason).toMatch(/expired/);
    // The session was expired at Stripe too: a late scan cannot pay.
    expect(sessionsFor(res.body.id)).toEqual([
      expect.objectContaining({ status: 'expired', payment_status: 'unpaid' }),
    ]);
    expect((await order(o.id)).totals.balance).toBe(price);
  });

  it('asks Stripe when no webhook comes (status query: paid, then expired)', async () => {
    await withoutWebhooks(async () => {
      const a = await scriptedOrder({ outcome: 'success', outcomeDelayMs: 300 });
      const ok = await payQr(a.o.id, a.price);
      expect(ok.status).toBe(202);
      expect((await settled(a.o.id, ok.body.id)).status).toBe('succeeded');
      await closed(a.o.id);

      const b = await scriptedOrder();
      const ko = await payQr(b.o.id, b.price);
      suite.sim.advanceTime(3600); // past the session's own expires_at at Stripe
      expect(await settled(b.o.id, ko.body.id)).toMatchObject({ status: 'failed', failureReason: 'expired' });
      expect((await order(b.o.id)).status).toBe('open');
    });
  });

  it('finds the session when the create request times out, without creating a second one', async () => {
    await withoutWebhooks(async () => {
      const { o, price } = await scriptedOrder({ outcome: 'timeout', afterTimeout: 'success' });
      const res = await payQr(o.id, price);
      expect([201, 202]).toContain(res.status);
      expect((await settled(o.id, res.body.id)).status).toBe('succeeded');
      await closed(o.id);
      expect(sessionsFor(res.body.id)).toHaveLength(1);
    });
  });

  it('counts a duplicated webhook once, and one that arrives before the session is returned', async () => {
    const a = await scriptedOrder({ outcome: 'success', outcomeDelayMs: 200, duplicateWebhook: true });
    const dup = await payQr(a.o.id, a.price);
    const done = await closed(a.o.id);
    expect(done.payments).toHaveLength(1);
    expect(done.totals).toMatchObject({ paid: a.price, balance: 0 });
    const deliveries = await until(
      () => Promise.resolve(webhooksFor(dup.body.reference).filter((w) => w.type === 'checkout.session.completed')),
      (ds) => ds.length === 2 && ds.every((d) => d.status !== 0),
    );
    expect(deliveries.map((d) => d.status)).toEqual([200, 200]);
    expect(deliveries[0].eventId).toBe(deliveries[1].eventId);

    const b = await scriptedOrder({ outcome: 'success', webhookBeforeResponse: true });
    const early = await payQr(b.o.id, b.price);
    expect([201, 202]).toContain(early.status);
    expect((await closed(b.o.id)).payments).toEqual([
      expect.objectContaining({ id: early.body.id, status: 'succeeded' }),
    ]);
    expect(webhooksFor(early.body.reference).find((w) => w.type === 'checkout.session.completed')).toMatchObject({
      status: 200,
    });
  });

  it('refunds automatically a payment made while the code is being cancelled, and flags it', async () => {
    const { o, price } = await scriptedOrder({ outcome: 'abandon', lateSuccessAfterCancel: true });
    const res = await payQr(o.id, price);
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
    const row = await suite.h.deps.knex('payments').where({ id: res.body.id }).first();
    expect(row).toMatchObject({ status: 'cancelled' });
    const [session] = sessionsFor(res.body.id);
    expect(session).toMatchObject({ payment_status: 'paid' });
    expect(suite.sim.refunds().filter((r: any) => r.payment_intent === session.payment_intent)).toEqual([
      expect.objectContaining({ amount: price, status: 'succeeded' }),
    ]);
    expect(await order(o.id)).toMatchObject({ status: 'open', totals: { paid: 0, balance: price } });
  });

  it('recovers from Stripe 5xx on the session create without creating two', async () => {
    const { o, price } = await scriptedOrder({ outcome: 'abandon', fail5xx: 2 });
    const res = await payQr(o.id, price);
    expect(res.status).toBe(202);
    expect(res.body.action.type).toBe('show_qr');
    await customerPays(res.body.action.url);
    await closed(o.id);
    expect(sessionsFor(res.body.id)).toEqual([
      expect.objectContaining({ payment_status: 'paid', amount_total: price }),
    ]);
  });

  it('answers 401 to a bad signature and changes nothing', async () => {
    const { o, price } = await scriptedOrder();
    const res = await payQr(o.id, price);
    const [session] = sessionsFor(res.body.id);
    const forged = stripeEvent('checkout.session.completed', {
      ...session,
      status: 'complete',
      payment_status: 'paid',
      payment_intent: 'pi_forged',
    });
    const bad = await postWebhook(forged, 'whsec_not_the_secret');
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe('UNAUTHENTICATED');
    const unsigned = await suite.h.api('POST', '/webhooks/stripe', { raw: JSON.stringify(forged) });
    expect(unsigned.status).toBe(401);
    await new Promise((r) => setTimeout(r, 600)); // past the callback wait: the status query still says open
    expect(await payment(o.id, res.body.id)).toMatchObject({ status: 'pending' });
    const cancelled = await suite.h.api('DELETE', `/api/v1/orders/${o.id}/payments/${res.body.id}`, {
      token: suite.cashier,
    });
    expect(cancelled.body.status).toBe('cancelled');
    await until(
      () => suite.h.deps.knex('payments').where({ id: res.body.id }).first(),
      (r) => r?.status === 'cancelled',
    );
    expect(sessionsFor(res.body.id)).toEqual([
      expect.objectContaining({ status: 'expired', payment_status: 'unpaid' }),
    ]);
  });

  it('answers 404 to a webhook for an unknown payment and 200 to events it does not use', async () => {
    const session = {
      id: 'cs_test_unknown',
      object: 'checkout.session',
      status: 'complete',
      payment_status: 'paid',
      amount_total: 500,
      payment_intent: 'pi_x',
      client_reference_id: randomUUID(),
      metadata: {},
    };
    const unknown = await postWebhook(stripeEvent('checkout.session.completed', session));
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NOT_FOUND');
    const unused = await postWebhook(stripeEvent('charge.refunded', { id: 'ch_x', object: 'charge' }));
    expect(unused.status).toBe(200);
  });

  it('charges no card fee on QR, and splits an order across QR and cash', async () => {
    const manager = await suite.h.login('2345');
    await suite.h.api('PUT', '/api/v1/settings', {
      token: manager,
      body: { cardFee: { enabled: true, rate: 300, min: 50 } },
    });
    let o: any;
    const price = nextPrice() + 2000;
    try {
      o = await openOrder(price);
    } finally {
      await suite.h.api('PUT', '/api/v1/settings', { token: manager, body: { cardFee: { enabled: false } } });
    }
    const part = price - 1000;
    suite.sim.script(part, { outcome: 'success', outcomeDelayMs: 200 });
    const res = await payQr(o.id, part);
    expect(res.body).toMatchObject({ status: 'pending', amount: part, fee: 0, tip: 0 });
    expect(sessionsFor(res.body.id)).toEqual([expect.objectContaining({ amount_total: part })]);
    await settled(o.id, res.body.id);
    expect((await order(o.id)).totals).toMatchObject({ cardFee: 0, paid: part, balance: 1000 });
    const cash = await suite.pay(o.id, { method: 'cash', amount: 1000, tendered: 1000 });
    expect(cash.body.order.status).toBe('closed');
    expect(cash.body.order.payments.map((p: any) => [p.method, p.status])).toEqual([
      ['qr', 'succeeded'],
      ['cash', 'succeeded'],
    ]);
  });
});
