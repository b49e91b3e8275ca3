import { randomUUID } from 'node:crypto';
import { paymentSuite } from './support/payment-suite';
import { openScriptedOrder, until } from './support/payments';
import { startSquareSimulator } from '../simulators/square';
import type { GatewayScript } from '../simulators/stripe';
import { createSquareGateway, signSquareWebhook } from '../activities/payments/square';
import type { SquareConfig } from '../core/gateway';

/**
 * Square card payments end to end: HTTP API → checkout → payment child workflow → the Square
 * simulator on loopback (Terminal checkouts and card-not-present Payments) → webhooks signed over
 * notification URL + body to /webhooks/square → order closes.
 */
let cfg: SquareConfig;
const suite = paymentSuite({
  start: () => startSquareSimulator(),
  // Square signs the notification URL, which is the harness's: known once it listens. The adapter
  // reads its config when a webhook arrives, so the URL is filled in after the harness starts.
  gateways: (sim) => {
    cfg = sim.config({ timeoutMs: 1_000, webhookUrl: '' });
    return { square: createSquareGateway(cfg) };
  },
  afterStart: (_sim, h) => (cfg.webhookUrl = h.baseUrl + '/webhooks/square'),
  webhookPath: '/webhooks/square',
  currency: 'USD',
  firstPrice: 3000,
});
const { nextPrice, order, payment, settled, closed, withoutWebhooks } = suite;
const openOrder = suite.openOrderAt;
const webhookUrl = () => suite.h.baseUrl + '/webhooks/square';

const TERMINAL = 'device:995CS397A6475287';

/** An order at a fresh price whose payment of that price follows `script`. */
const scriptedOrder = (script?: GatewayScript) =>
  openScriptedOrder(suite.h, suite.cashier, suite.sim, nextPrice(), script);

const payCard = (orderId: string, body: Record<string, unknown>) =>
  suite.pay(orderId, { method: 'card', provider: 'square', ...body });

const checkoutsFor = (paymentId: string): any[] =>
  suite.sim.checkouts().filter((c: any) => c.reference_id === paymentId);
const paymentsFor = (paymentId: string) => suite.sim.payments().filter((p: any) => p.reference_id === paymentId);
const webhooksFor = (reference: string) => suite.sim.webhooks().filter((w) => w.body.includes(reference));

function checkoutEvent(checkout: Record<string, unknown>, type = 'terminal.checkout.updated') {
  return {
    merchant_id: 'MLTEST',
    location_id: suite.sim.locationId,
    type,
    event_id: randomUUID(),
    created_at: new Date().toISOString(),
    data: { type: 'checkout', id: checkout.id, object: { checkout } },
  };
}

function postWebhook(
  event: unknown,
  sign: ((body: string) => string) | null = (b) => signSquareWebhook(suite.sim.webhookSignatureKey, webhookUrl(), b),
) {
  const raw = JSON.stringify(event);
  return suite.h.api('POST', '/webhooks/square', {
    raw,
    headers: sign ? { 'x-square-hmacsha256-signature': sign(raw) } : {},
  });
}

describe('Square card payments', () => {
  it('charges on the Terminal: 202 present_card, then the webhook closes the order', async () => {
    const { o, price } = await scriptedOrder({ outcome: 'success', outcomeDelayMs: 300 });
    const res = await payCard(o.id, { amount: price, deviceId: TERMINAL });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      method: 'card',
      provider: 'square',
      status: 'pending',
      amount: price,
      tip: 0,
      fee: 0,
      sandbox: true,
      action: { type: 'present_card' },
    });
    expect(res.body.reference).toBeTruthy();

    const done = await closed(o.id);
    expect(done.payments[0]).toMatchObject({ status: 'succeeded', reference: res.body.reference });
    expect(done.totals).toMatchObject({ paid: price, balance: 0 });
    const [checkout] = checkoutsFor(res.body.id);
    expect(checkout).toMatchObject({
      id: res.body.reference,
      status: 'COMPLETED',
      amount_money: { amount: price, currency: 'USD' },
      device_options: { device_id: TERMINAL, tip_settings: { allow_tipping: false } },
    });
    const row = await until(
      () => suite.h.deps.knex('payments').where({ id: res.body.id }).first(),
      (r) => r?.status === 'succeeded',
    );
    expect(row.receipt).toBe(checkout.payment_ids[0]);
    expect(webhooksFor(res.body.reference).find((w) => w.type === 'terminal.checkout.updated')).toMatchObject({
      status: 200,
    });
  });

  it('settles a card-not-present payment (card nonce) at once: 201', async () => {
    const { o, price } = await scriptedOrder();
    const res = await payCard(o.id, { amount: price, sourceId: 'cnon:card-nonce-ok' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', amount: price });
    await closed(o.id);
    expect(paymentsFor(res.body.id)).toEqual([
      expect.objectContaining({
        id: res.body.reference,
        status: 'COMPLETED',
        total_money: { amount: price, currency: 'USD' },
      }),
    ]);
  });

  it('reports a decline in words and leaves the balance due (card nonce, then Terminal)', async () => {
    const a = await scriptedOrder();
    const declined = await payCard(a.o.id, { amount: a.price, sourceId: 'cnon:card-nonce-declined' });
    expect(declined.status).toBe(402);
    expect(declined.body).toMatchObject({ code: 'PAYMENT_FAILED', status: 'failed', failureReason: 'Card declined' });
    expect(declined.body.order.totals.balance).toBe(a.price);
    const retry = await payCard(a.o.id, { amount: a.price, sourceId: 'cnon:card-nonce-ok' });
    expect(retry.body.status).toBe('succeeded');
    await closed(a.o.id);

    const b = await scriptedOrder({ outcome: 'decline', outcomeDelayMs: 300 });
    const res = await payCard(b.o.id, { amount: b.price, deviceId: TERMINAL });
    expect(res.status).toBe(202);
    const p = await settled(b.o.id, res.body.id);
    expect(p.status).toBe('failed');
    expect(p.failureReason).toMatch(/not paid on the terminal/i);
    expect(await order(b.o.id)).toMatchObject({ status: 'open', totals: { paid: 0, balance: b.price } });
  });

  it('learns the outcome from Square when the create request times out (success, then decline)', async () => {
    await withoutWebhooks(async () => {
      const a = await scriptedOrder({ outcome: 'timeout', afterTimeout: 'success' });
      const ok = await payCard(a.o.id, { amount: a.price, sourceId: 'cnon:card-nonce-ok' });
      expect(ok.status).toBe(201);
      expect(ok.body.status).toBe('succeeded');
      await closed(a.o.id);
      expect(paymentsFor(ok.body.id)).toHaveLength(1);

      const b = await scriptedOrder({ outcome: 'timeout', afterTimeout: 'decline' });
      const ko = await payCard(b.o.id, { amount: b.price, sourceId: 'cnon:card-nonce-ok' });
      const p = await settled(b.o.id, ko.body.id);
      expect(p).toMatchObject({ status: 'failed', failureReason: 'Card declined' });
      expect((await order(b.o.id)).totals.balance).toBe(b.price);
      expect(paymentsFor(ko.body.id)).toHaveLength(1);
    });
  });

  it('asks Square when no webhook comes (status query success, then failure)', async () => {
    await withoutWebhooks(async () => {
      const a = await scriptedOrder({ outcome: 'success', outcomeDelayMs: 300 });
      const ok = await payCard(a.o.id, { amount: a.price, deviceId: TERMINAL });
      expect(ok.status).toBe(202);
      expect((await settled(a.o.id, ok.body.id)).status).toBe('succeeded');
      await closed(a.o.id);

      const b = await scriptedOrder({ outcome: 'decline', outcomeDelayMs: 300 });
      const ko = await payCard(b.o.id, { amount: b.price, deviceId: TERMINAL });
      expect(ko.status).toBe(202);
      expect(await settled(b.o.id, ko.body.id)).toMatchObject({ status: 'failed' });
      expect((await order(b.o.id)).status).toBe('open');
    });
  });

  it('counts a duplicated webhook once, and one that arrives before the checkout is returned', async () => {
    const a = await scriptedOrder({ outcome: 'success', outcomeDelayMs: 200, duplicateWebhook: true });
    const dup = await payCard(a.o.id, { amount: a.price, deviceId: TERMINAL });
    const done = await closed(a.o.id);
    expect(done.payments).toHaveLength(1);
    expect(done.totals).toMatchObject({ paid: a.price, balance: 0 });
    const deliveries = await until(
      () => Promise.resolve(webhooksFor(dup.body.reference).filter((w) => w.type === 'terminal.checkout.updated')),
      (ds) => ds.length === 2 && ds.every((d) => d.status !== 0),
    );
    expect(deliveries.map((d) => d.status)).toEqual([200, 200]);
    expect(deliveries[0].eventId).toBe(deliveries[1].eventId);

    const b = await scriptedOrder({ outcome: 'success', webhookBeforeResponse: true });
    const early = await payCard(b.o.id, { amount: b.price, deviceId: TERMINAL });
    expect([201, 202]).toContain(early.status);
    expect((await closed(b.o.id)).payments).toEqual([
      expect.objectContaining({ id: early.body.id, status: 'succeeded' }),
    ]);
    expect(webhooksFor(early.body.reference).find((w) => w.type === 'terminal.checkout.updated')).toMatchObject({
      status: 200,
    });
  });

  it('refunds automatically a success that lands while the checkout is being cancelled, and flags it', async () => {
    const { o, price } = await scriptedOrder({ outcome: 'abandon', lateSuccessAfterCancel: true });
    const res = await payCard(o.id, { amount: price, deviceId: TERMINAL });
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
    expect(await suite.h.deps.knex('payments').where({ id: res.body.id }).first()).toMatchObject({
      status: 'cancelled',
    });
    const [checkout] = checkoutsFor(res.body.id);
    expect(checkout.status).toBe('COMPLETED');
    expect(suite.sim.refunds().filter((r: any) => r.payment_id === checkout.payment_ids[0])).toEqual([
      expect.objectContaining({ amount_money: { amount: price, currency: 'USD' }, status: 'COMPLETED' }),
    ]);
    expect(await order(o.id)).toMatchObject({ status: 'open', totals: { paid: 0, balance: price } });
  });

  it('recovers from Square 5xx without charging twice', async () => {
    const { o, price } = await scriptedOrder({ outcome: 'success', outcomeDelayMs: 100, fail5xx: 2 });
    const res = await payCard(o.id, { amount: price, deviceId: TERMINAL });
    expect(res.body.method).toBe('card');
    await closed(o.id);
    expect(checkoutsFor(res.body.id)).toEqual([expect.objectContaining({ status: 'COMPLETED' })]);
    expect(paymentsFor(res.body.id)).toEqual([
      expect.objectContaining({ status: 'COMPLETED', total_money: { amount: price, currency: 'USD' } }),
    ]);
  });

  it('answers 401 to a bad signature (wrong key, other URL, none) and changes nothing', async () => {
    const { o, price } = await scriptedOrder({ outcome: 'abandon' });
    const res = await payCard(o.id, { amount: price, deviceId: TERMINAL });
    expect(res.status).toBe(202);
    const [checkout] = checkoutsFor(res.body.id);
    const forged = checkoutEvent({ ...checkout, status: 'COMPLETED', payment_ids: ['forged'] });
    const signatures = [
      (b: string) => signSquareWebhook('not-the-key', webhookUrl(), b),
      (b: string) =>
        signSquareWebhook(suite.sim.webhookSignatureKey, 'https://elsewhere.example.com/webhooks/square', b),
      null,
    ];
    for (const sign of signatures) {
      const r = await postWebhook(forged, sign);
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('UNAUTHENTICATED');
    }
    await new Promise((r) => setTimeout(r, 600)); // past the callback wait: the status query still says pending
    expect(await payment(o.id, res.body.id)).toMatchObject({ status: 'pending' });
    const cancelled = await suite.h.api('DELETE', `/api/v1/orders/${o.id}/payments/${res.body.id}`, {
      token: suite.cashier,
    });
    expect(cancelled.body.status).toBe('cancelled');
    await until(
      () => suite.h.deps.knex('payments').where({ id: res.body.id }).first(),
      (r) => r?.status === 'cancelled',
    );
    expect(checkoutsFor(res.body.id)).toEqual([
      expect.objectContaining({ status: 'CANCELED', cancel_reason: 'SELLER_CANCELED', payment_ids: [] }),
    ]);
  });

  it('answers 404 to a webhook for an unknown payment and 200 to events it does not use', async () => {
    const checkout = {
      id: 'unknownCheckout',
      status: 'COMPLETED',
      reference_id: randomUUID(),
      amount_money: { amount: 500, currency: 'USD' },
      payment_ids: ['p1'],
    };
    const unknown = await postWebhook(checkoutEvent(checkout));
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NOT_FOUND');
    const foreign = await postWebhook(checkoutEvent({ ...checkout, reference_id: 'table 4' }));
    expect(foreign.status).toBe(404);
    const unused = await postWebhook({
      merchant_id: 'MLTEST',
      type: 'customer.created',
      event_id: randomUUID(),
      created_at: new Date().toISOString(),
      data: { type: 'customer', id: 'c1', object: {} },
    });
    expect(unused.status).toBe(200);
  });

  it('adds the card fee from the settings and the tip, and charges them', async () => {
    const manager = await suite.h.login('2345');
    expect(
      (
        await suite.h.api('PUT', '/api/v1/settings', {
          token: manager,
          body: { cardFee: { enabled: true, rate: 300, min: 50 } },
        })
      ).status,
    ).toBe(200);
    let o: any;
    const price = nextPrice() + 2000;
    try {
      o = await openOrder(price);
    } finally {
      await suite.h.api('PUT', '/api/v1/settings', { token: manager, body: { cardFee: { enabled: false } } });
    }
    const cardFee = Math.round((price * 300) / 10_000);
    const tip = 250;
    const res = await payCard(o.id, { amount: price, tip, sourceId: 'cnon:card-nonce-ok' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', amount: price, tip, fee: cardFee });
    const done = await closed(o.id);
    expect(done.totals).toMatchObject({
      cardFee,
      tip,
      total: price + tip + cardFee,
      paid: price + tip + cardFee,
      balance: 0,
    });
    // The tip goes to Square as tip_money; amount_money is the rest (amount + fee).
    expect(paymentsFor(res.body.id)).toEqual([
      expect.objectContaining({
        amount_money: { amount: price + cardFee, currency: 'USD' },
        tip_money: { amount: tip, currency: 'USD' },
        total_money: { amount: price + tip + cardFee, currency: 'USD' },
      }),
    ]);
  });

  it('splits one order across a card and cash', async () => {
    const price = nextPrice() + 2000;
    const o = await openOrder(price);
    const card = await payCard(o.id, { amount: price - 1000, sourceId: 'cnon:card-nonce-ok' });
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
    expect(cash.body.order.status).toBe('closed');
    expect(cash.body.order.payments.map((p: any) => [p.method, p.status])).toEqual([
      ['card', 'succeeded'],
      ['cash', 'succeeded'],
    ]);
  });
});
