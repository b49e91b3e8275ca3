import { randomUUID } from 'node:crypto';
import { PNG } from 'pngjs';
import { QR_MIN_EXPIRY_SECONDS, createQrGateway, qrImage } from '../activities/payments/qr';
import { createStripeGateway } from '../activities/payments/stripe';
import { WebhookSignatureError, type InitiateRequest, type PaymentGateway } from '../core/gateway';
import { startStripeSimulator, type StripeSim } from '../simulators/stripe';
import {
  expectGatewayFailure,
  startWebhookReceiver,
  webhookEventsArrive,
  webhookEventsFor,
  type ReceivedWebhook,
  type WebhookReceiver,
  waitFor,
  decodeQr,
} from './support/gateways';

/*
 * The QR adapter (a Stripe Checkout Session shown as a QR code) against the Stripe simulator:
 * stripe-mock validates, the proxy keeps the sessions and plays the customer.
 */

let sim: StripeSim;
let qr: PaymentGateway;
let receiver: WebhookReceiver;
const received: ReceivedWebhook[] = [];
const opts = { successUrl: 'https://pos.example.com/qr/done', cancelUrl: 'https://pos.example.com/qr/cancelled' };

beforeAll(async () => {
  sim = await startStripeSimulator({ defaultScript: { outcome: 'abandon' } });
  qr = createQrGateway(sim.config({ timeoutMs: 1_500 }), opts);
  const stripeGw = createStripeGateway(sim.config());
  receiver = await startWebhookReceiver('/webhooks/stripe', received, ({ headers, rawBody }) => {
    // /webhooks/stripe serves both: the Stripe adapter's parser labels session events 'qr'.
    const event = stripeGw.parseWebhook({ headers, rawBody, url: '' });
    expect(qr.parseWebhook({ headers, rawBody, url: '' })).toEqual(event);
    return event;
  });
  sim.setWebhookUrl(receiver.url);
}, 15 * 60_000);

afterAll(async () => {
  await sim?.close();
  await receiver?.close();
});

let amountSeq = 3000;
function request(over: Partial<InitiateRequest> = {}): InitiateRequest {
  const orderId = randomUUID();
  const total = over.total ?? amountSeq++;
  return {
    paymentId: randomUUID(),
    orderId,
    orderNumber: 31,
    idempotencyKey: `payment-${orderId}-1`,
    total,
    amount: total,
    tip: 0,
    fee: 0,
    currency: 'KES',
    description: 'Order 31',
    ...over,
  };
}

const statusOf = (req: InitiateRequest, reference: string) =>
  qr.status({ reference, idempotencyKey: req.idempotencyKey, total: req.total, currency: req.currency });

const eventsFor = (paymentId: string) => webhookEventsFor(received, paymentId);
const eventsArrive = (paymentId: string, n = 1) => webhookEventsArrive(received, paymentId, n);
const sessionsFor = (paymentId: string) => sim.checkoutSessions().filter((s) => s.client_reference_id === paymentId);

describe('qr adapter (Stripe Checkout Session behind a QR code)', () => {
  it('shows a QR of the hosted page: a PNG data URL made by qrcode that decodes to the url', async () => {
    const req = request();
    const res = await qr.initiate(req);
    expect(res).toMatchObject({
      status: 'pending',
      reference: expect.stringMatching(/^cs_test_/),
      sandbox: true,
      action: { type: 'show_qr' },
    });
    const { url, image } = res.action!;
    expect(url).toBe(`${sim.url}/pay/${res.reference}`);
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
    sim.script(req.paymentId, { outcome: 'success' });
    const res = await qr.initiate(req);
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
    const res = await qr.initiate(req);
    const page = await fetch(res.action!.url!);
    expect(await page.text()).toMatch(/<form method="post">/);
    await fetch(res.action!.url!, { method: 'POST' });
    expect(await statusOf(req, res.reference)).toMatchObject({ status: 'succeeded' });
  });

  it('decline: a declined card leaves the page open (pending) and sends nothing', async () => {
    const req = request();
    sim.script(req.paymentId, { outcome: 'decline' });
    const res = await qr.initiate(req);
    await new Promise((r) => setTimeout(r, 100));
    expect(await statusOf(req, res.reference)).toEqual({ status: 'pending' });
    expect(eventsFor(req.paymentId)).toEqual([]);
  });

  it('expiry: clamped to Stripe’s 30-minute minimum; when it passes → failed "expired" (webhook and status)', async () => {
    const short = createQrGateway(sim.config(), { ...opts, expiresInSeconds: 60 });
    const req = request();
    const before = Math.floor(Date.now() / 1000);
    const res = await short.initiate(req);
    const [session] = sessionsFor(req.paymentId);
    expect(session.expires_at).toBeGreaterThanOrEqual(before + QR_MIN_EXPIRY_SECONDS);
    expect(session.expires_at).toBeLessThan(before + QR_MIN_EXPIRY_SECONDS + 60);

    const hour = request({ expiresAt: new Date(Date.now() + 3600_000).toISOString() });
    await qr.initiate(hour);
    // Sent as asked: the expected value comes from the request itself, not from a clock read earlier.
    expect(sessionsFor(hour.paymentId)[0].expires_at).toBe(Math.floor(Date.parse(hour.expiresAt!) / 1000));

    sim.advanceTime(QR_MIN_EXPIRY_SECONDS + 60);
    const [event] = await eventsArrive(req.paymentId);
    expect(event).toMatchObject({
      gateway: 'qr',
      reference: res.reference,
      status: 'failed',
      failureReason: 'expired',
    });
    expect(await statusOf(req, res.reference)).toEqual({ status: 'failed', failureReason: 'expired' });
    expect(await qr.cancel({ reference: res.reference, idempotencyKey: 'cancel-expired' })).toEqual({
      status: 'cancelled',
    });
  });

  it('timeout, then status success: the retried initiate returns the same session', async () => {
    const req = request();
    sim.script(req.paymentId, { outcome: 'timeout', afterTimeout: 'success', outcomeDelayMs: 50, hangMs: 3_000 });
    await expectGatewayFailure(qr.initiate(req), 'GatewayUnavailable', false);
    const again = await qr.initiate(req);
    expect(sessionsFor(req.paymentId)).toHaveLength(1);
    expect(again.reference).toBe(sessionsFor(req.paymentId)[0].id);
    await waitFor(async () => (await statusOf(req, again.reference)).status === 'succeeded', 'paid');
  });

  it('timeout, then status failure (never paid, expired)', async () => {
    const req = request();
    sim.script(req.paymentId, { outcome: 'timeout', afterTimeout: 'decline', hangMs: 3_000 });
    await expectGatewayFailure(qr.initiate(req), 'GatewayUnavailable', false);
    const [session] = sessionsFor(req.paymentId);
    sim.advanceTime(24 * 3600);
    expect(await statusOf(req, session.id as string)).toEqual({ status: 'failed', failureReason: 'expired' });
    expect(await qr.initiate(req)).toMatchObject({ status: 'failed', failureReason: 'expired', reference: session.id });
  });

  it('duplicate webhook: the same event id twice', async () => {
    const req = request();
    sim.script(req.paymentId, { outcome: 'success', duplicateWebhook: true });
    await qr.initiate(req);
    const events = await eventsArrive(req.paymentId, 2);
    expect(events[0]).toEqual(events[1]);
  });

  it('webhook before the initiate call returns', async () => {
    const req = request();
    sim.script(req.paymentId, { outcome: 'success', webhookBeforeResponse: true });
    const res = await qr.initiate(req);
    expect(eventsFor(req.paymentId)).toEqual([
      expect.objectContaining({ status: 'succeeded', reference: res.reference }),
    ]);
  });

  it('cancel expires the session; a payment that beats the cancel reports succeeded and is refunded via its intent', async () => {
    const plain = request();
    const a = await qr.initiate(plain);
    expect(await qr.cancel({ reference: a.reference, idempotencyKey: `cancel-${plain.idempotencyKey}` })).toEqual({
      status: 'cancelled',
    });
    expect(sessionsFor(plain.paymentId)[0].status).toBe('expired');

    const late = request();
    sim.script(late.paymentId, { outcome: 'abandon', lateSuccessAfterCancel: true });
    const b = await qr.initiate(late);
    expect(await qr.cancel({ reference: b.reference, idempotencyKey: `cancel-${late.idempotencyKey}` })).toEqual({
      status: 'succeeded',
    });
    const refund = await qr.refund({
      reference: b.reference,
      idempotencyKey: `auto-refund-${late.idempotencyKey}`,
      amount: late.total,
      currency: late.currency,
      reason: 'paid after cancel',
    });
    expect(refund).toMatchObject({ status: 'succeeded', reference: expect.stringMatching(/^re_/) });
    const pi = sessionsFor(late.paymentId)[0].payment_intent;
    expect(sim.refunds().filter((r) => r.payment_intent === pi)).toHaveLength(1);
    // The intent carries our ids, marked as a QR payment.
    expect(sim.paymentIntents().find((x) => x.id === pi)!.metadata).toMatchObject({
      paymentId: late.paymentId,
      channel: 'qr',
    });
  });

  it('refund of a session that was never paid fails cleanly', async () => {
    const req = request();
    const res = await qr.initiate(req);
    expect(
      await qr.refund({
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
    sim.script(req.paymentId, { outcome: 'abandon', fail5xx: 1 });
    await expectGatewayFailure(qr.initiate(req), 'GatewayUnavailable', false);
    expect(sessionsFor(req.paymentId)).toHaveLength(0);
    expect(await qr.initiate(req)).toMatchObject({ status: 'pending' });
    expect(sessionsFor(req.paymentId)).toHaveLength(1);
  });

  it('idempotency: initiate twice with the same key → one session', async () => {
    const req = request();
    const first = await qr.initiate(req);
    expect(await qr.initiate(req)).toEqual(first);
    expect(sessionsFor(req.paymentId)).toHaveLength(1);
  });

  it('bad webhook signature → WebhookSignatureError', async () => {
    const req = request();
    sim.script(req.paymentId, { outcome: 'success' });
    await qr.initiate(req);
    await eventsArrive(req.paymentId);
    const { body } = sim.webhooks().find((d) => d.body.includes(req.paymentId))!;
    expect(() => qr.parseWebhook({ headers: {}, rawBody: body, url: '' })).toThrow(WebhookSignatureError);
    expect(() =>
      qr.parseWebhook({
        headers: { 'stripe-signature': `t=${Math.floor(Date.now() / 1000)},v1=deadbeef` },
        rawBody: body,
        url: '',
      }),
    ).toThrow(WebhookSignatureError);
    expect(received.filter((r) => r.error)).toEqual([]);
  });
});
