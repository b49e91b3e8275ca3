import { PNG } from 'pngjs';
import { QR_MIN_EXPIRY_SECONDS, createQrGateway, qrImage } from '../activities/payments/qr';
import { createStripeGateway } from '../activities/payments/stripe';
import { WebhookSignatureError, type PaymentGateway } from '../core/gateway';
import { startStripeSimulator } from '../simulators/stripe';
import { expectGatewayFailure, waitFor, decodeQr } from './support/gateways';
import { gatewaySuite } from './support/gateway-suite';

/*
 * The QR adapter (a Stripe Checkout Session shown as a QR code) against the Stripe simulator:
 * stripe-mock validates, the proxy keeps the sessions and plays the customer.
 */

const opts = { successUrl: 'https://pos.example.com/qr/done', cancelUrl: 'https://pos.example.com/qr/cancelled' };
let stripeGw: PaymentGateway | undefined;

const suite = gatewaySuite({
  start: () => startStripeSimulator({ defaultScript: { outcome: 'abandon' } }),
  webhookPath: '/webhooks/stripe',
  gateway: (sim) => createQrGateway(sim.config({ timeoutMs: 1_500 }), opts),
  parse: ({ headers, rawBody }, qr) => {
    // /webhooks/stripe serves both: the Stripe adapter's parser labels session events 'qr'.
    stripeGw ??= createStripeGateway(suite.sim.config());
    const event = stripeGw.parseWebhook({ headers, rawBody, url: '' });
    expect(qr.parseWebhook({ headers, rawBody, url: '' })).toEqual(event);
    return event;
  },
  requestDefaults: { orderNumber: 31, currency: 'KES', description: 'Order 31' },
  firstAmount: 3000,
  startTimeoutMs: 15 * 60_000,
});
const { request, statusOf, eventsFor, eventsArrive, received } = suite;
const sessionsFor = (paymentId: string) =>
  suite.sim.checkoutSessions().filter((s) => s.client_reference_id === paymentId);

describe('qr adapter (Stripe Checkout Session behind a QR code)', () => {
  it('shows a QR of the hosted page: a PNG data URL made by qrcode that decodes to the url', async () => {
    const req = request();
    const res = await suite.gw.initiate(req);
    expect(res).toMatchObject({
      status: 'pending',
      reference: expect.stringMatching(/^cs_test_/),
      sandbox: true,
      action: { type: 'show_qr' },
    });
    const { url, image } = res.action!;
    expect(url).toBe(`${suite.sim.url}/pay/${res.reference}`);
    expect(image).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
    expect(image).toBe(await qrImage(url!)); // qrcode's toDataURL, deterministic
    const png = PNG.sync.read(Buffer.from(image!.split(',')[1], 'base64'));
    expect(png.width).toBeGreaterThanOrEqual(300);
    expect(decodeQr(image!)).toBe(url);
    // The session: the total as one line, our ids, the redirect URLs.
    expect(sessionsFor(req.paymentId)[0]).toMatchObject({
      id: res.reference,
      mode: 'payment',
      amount_total: req.total,
      currency: 'kes',
      metadata: { paymentId: req.paymentId, orderId: req.orderId },
      success_url: opts.successUrl,
      cancel_url: opts.cancelUrl,
    });
  });

  it('success: the customer pays, checkout.session.completed arrives, status says succeeded', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'success' });
    const res = await suite.gw.initiate(req);
    const [event] = await eventsArrive(req.paymentId);
    expect(event).toMatchObject({
      gateway: 'qr',
      paymentId: req.paymentId,
      reference: res.reference,
      status: 'succeeded',
      amountPaid: req.total,
      eventId: expect.stringMatching(/^evt_/),
    });
    expect(await statusOf(req, res.reference)).toMatchObject({
      status: 'succeeded',
      amountPaid: req.total,
      receipt: expect.stringMatching(/^pi_/),
    });
  });

  it('the hosted page works for a person too (GET shows it, POST pays)', async () => {
    const req = request();
    const res = await suite.gw.initiate(req);
    const page = await fetch(res.action!.url!);
    expect(await page.text()).toMatch(/<form method="post">/);
    await fetch(res.action!.url!, { method: 'POST' });
    expect(await statusOf(req, res.reference)).toMatchObject({ status: 'succeeded' });
  });

  it('decline: a declined card leaves the page open (pending) and sends nothing', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'decline' });
    const res = await suite.gw.initiate(req);
    await new Promise((r) => setTimeout(r, 100));
    expect(await statusOf(req, res.reference)).toEqual({ status: 'pending' });
    expect(eventsFor(req.paymentId)).toEqual([]);
  });

  it('expiry: clamped to Stripe’s 30-minute minimum; when it passes → failed "expired" (webhook and status)', async () => {
    const short = createQrGateway(suite.sim.config(), { ...opts, expiresInSeconds: 60 });
    const req = request();
    const before = Math.floor(Date.now() / 1000);
    const res = await short.initiate(req);
    const [session] = sessionsFor(req.paymentId);
    expect(session.expires_at).toBeGreaterThanOrEqual(before + QR_MIN_EXPIRY_SECONDS);
    expect(session.expires_at).toBeLessThan(before + QR_MIN_EXPIRY_SECONDS + 60);

    const hour = request({ expiresAt: new Date(Date.now() + 3600_000).toISOString() });
    await suite.gw.initiate(hour);
    // Sent as asked: the expected value comes from the request itself, not from a clock read earlier.
    expect(sessionsFor(hour.paymentId)[0].expires_at).toBe(Math.floor(Date.parse(hour.expiresAt!) / 1000));

    suite.sim.advanceTime(QR_MIN_EXPIRY_SECONDS + 60);
    const [event] = await eventsArrive(req.paymentId);
    expect(event).toMatchObject({
      gateway: 'qr',
      reference: res.reference,
      status: 'failed',
      failureReason: 'expired',
    });
    expect(await statusOf(req, res.reference)).toEqual({ status: 'failed', failureReason: 'expired' });
    expect(await suite.gw.cancel({ reference: res.reference, idempotencyKey: 'cancel-expired' })).toEqual({
      status: 'cancelled',
    });
  });

  it('timeout, then status success: the retried initiate returns the same session', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'timeout', afterTimeout: 'success', outcomeDelayMs: 50, hangMs: 3_000 });
    await expectGatewayFailure(suite.gw.initiate(req), 'GatewayUnavailable', false);
    const again = await suite.gw.initiate(req);
    expect(sessionsFor(req.paymentId)).toHaveLength(1);
    expect(again.reference).toBe(sessionsFor(req.paymentId)[0].id);
    await waitFor(async () => (await statusOf(req, again.reference)).status === 'succeeded', 'paid');
  });

  it('timeout, then status failure (never paid, expired)', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'timeout', afterTimeout: 'decline', hangMs: 3_000 });
    await expectGatewayFailure(suite.gw.initiate(req), 'GatewayUnavailable', false);
    const [session] = sessionsFor(req.paymentId);
    suite.sim.advanceTime(24 * 3600);
    expect(await statusOf(req, session.id as string)).toEqual({ status: 'failed', failureReason: 'expired' });
    expect(await suite.gw.initiate(req)).toMatchObject({
      status: 'failed',
      failureReason: 'expired',
      reference: session.id,
    });
  });

  it('duplicate webhook: the same event id twice', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'success', duplicateWebhook: true });
    await suite.gw.initiate(req);
    const events = await eventsArrive(req.paymentId, 2);
    expect(events[0]).toEqual(events[1]);
  });

  it('webhook before the initiate call returns', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'success', webhookBeforeResponse: true });
    const res = await suite.gw.initiate(req);
    expect(eventsFor(req.paymentId)).toEqual([
      expect.objectContaining({ status: 'succeeded', reference: res.reference }),
    ]);
  });

  it('cancel expires the session; a payment that beats the cancel reports succeeded and is refunded via its intent', async () => {
    const plain = request();
    const a = await suite.gw.initiate(plain);
    expect(await suite.gw.cancel({ reference: a.reference, idempotencyKey: `cancel-${plain.idempotencyKey}` })).toEqual(
      {
        status: 'cancelled',
      },
    );
    expect(sessionsFor(plain.paymentId)[0].status).toBe('expired');

    const late = request();
    suite.sim.script(late.paymentId, { outcome: 'abandon', lateSuccessAfterCancel: true });
    const b = await suite.gw.initiate(late);
    expect(await suite.gw.cancel({ reference: b.reference, idempotencyKey: `cancel-${late.idempotencyKey}` })).toEqual({
      status: 'succeeded',
    });
    const refund = await suite.gw.refund({
      reference: b.reference,
      idempotencyKey: `auto-refund-${late.idempotencyKey}`,
      amount: late.total,
      currency: late.currency,
      reason: 'paid after cancel',
    });
    expect(refund).toMatchObject({ status: 'succeeded', reference: expect.stringMatching(/^re_/) });
    const pi = sessionsFor(late.paymentId)[0].payment_intent;
    expect(suite.sim.refunds().filter((r) => r.payment_intent === pi)).toHaveLength(1);
    // The intent carries our ids, marked as a QR payment.
    expect(suite.sim.paymentIntents().find((x) => x.id === pi)!.metadata).toMatchObject({
      paymentId: late.paymentId,
      channel: 'qr',
    });
  });

  it('refund of a session that was never paid fails cleanly', async () => {
    const req = request();
    const res = await suite.gw.initiate(req);
    expect(
      await suite.gw.refund({
        reference: res.reference,
        idempotencyKey: 'refund-unpaid',
        amount: 1,
        currency: 'KES',
        reason: 'x',
      }),
    ).toMatchObject({ status: 'failed' });
  });

  it('5xx then recovery: a retryable error, then one session under the same key', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'abandon', fail5xx: 1 });
    await expectGatewayFailure(suite.gw.initiate(req), 'GatewayUnavailable', false);
    expect(sessionsFor(req.paymentId)).toHaveLength(0);
    expect(await suite.gw.initiate(req)).toMatchObject({ status: 'pending' });
    expect(sessionsFor(req.paymentId)).toHaveLength(1);
  });

  it('idempotency: initiate twice with the same key → one session', async () => {
    const req = request();
    const first = await suite.gw.initiate(req);
    expect(await suite.gw.initiate(req)).toEqual(first);
    expect(sessionsFor(req.paymentId)).toHaveLength(1);
  });

  it('bad webhook signature → WebhookSignatureError', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'success' });
    await suite.gw.initiate(req);
    await eventsArrive(req.paymentId);
    const { body } = suite.sim.webhooks().find((d) => d.body.includes(req.paymentId))!;
    expect(() => suite.gw.parseWebhook({ headers: {}, rawBody: body, url: '' })).toThrow(WebhookSignatureError);
    expect(() =>
      suite.gw.parseWebhook({
        headers: { 'stripe-signature': `t=${Math.floor(Date.now() / 1000)},v1=deadbeef` },
        rawBody: body,
        url: '',
      }),
    ).toThrow(WebhookSignatureError);
    expect(received.filter((r) => r.error)).toEqual([]);
  });
});
