import { createHmac } from 'node:crypto';
import { createStripeGateway, stripeConfigFromEnv } from '../activities/payments/stripe';
import { WebhookSignatureError } from '../core/gateway';
import { startStripeSimulator } from '../simulators/stripe';
import { expectGatewayFailure, waitFor } from './support/gateways';
import { gatewaySuite } from './support/gateway-suite';

/*
 * The Stripe adapter against the Stripe simulator over real HTTP: stripe-mock validates every
 * request, the simulator's proxy keeps state and sends signed webhooks to a local receiver that
 * hands them to the adapter's parseWebhook, as /webhooks/stripe would.
 */

const suite = gatewaySuite({
  start: () => startStripeSimulator(),
  webhookPath: '/webhooks/stripe',
  gateway: (sim) => createStripeGateway(sim.config({ timeoutMs: 1_500 })),
  requestDefaults: { orderNumber: 12, currency: 'USD', description: 'Order 12', deviceId: 'tmr_reader_1' },
  firstAmount: 1000,
  // A fresh machine builds stripe-mock with Go first (about a minute).
  startTimeoutMs: 15 * 60_000,
});
const { request, statusOf, eventsFor, eventsArrive, received } = suite;
const intentsFor = (paymentId: string) =>
  suite.sim.paymentIntents().filter((pi) => (pi.metadata as Record<string, string>).paymentId === paymentId);

describe('stripe adapter (reader and payment-method flows)', () => {
  it('reads its config from the environment', () => {
    expect(
      stripeConfigFromEnv({
        STRIPE_SECRET_KEY: 'sk_test_x',
        STRIPE_WEBHOOK_SECRET: 'whsec_x',
        STRIPE_HOST: '127.0.0.1',
        STRIPE_PORT: '12111',
        STRIPE_PROTOCOL: 'http',
      }),
    ).toEqual({
      secretKey: 'sk_test_x',
      webhookSecret: 'whsec_x',
      host: '127.0.0.1',
      port: 12111,
      protocol: 'http',
      sandbox: true,
    });
    expect(stripeConfigFromEnv({ STRIPE_SECRET_KEY: 'sk_live_x', STRIPE_WEBHOOK_SECRET: 'whsec_x' }).sandbox).toBe(
      false,
    );
    expect(() => stripeConfigFromEnv({ STRIPE_WEBHOOK_SECRET: 'whsec_x' })).toThrow(/STRIPE_SECRET_KEY/);
    expect(() =>
      stripeConfigFromEnv({ STRIPE_SECRET_KEY: 'k', STRIPE_WEBHOOK_SECRET: 'w', STRIPE_PROTOCOL: 'ftp' }),
    ).toThrow(/STRIPE_PROTOCOL/);
  });

  it('success on a reader: pending with present_card, then a signed webhook and status say succeeded', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'success', awaitCard: true });
    const res = await suite.gw.initiate(req);
    expect(res).toMatchObject({
      status: 'pending',
      reference: expect.stringMatching(/^pi_/),
      sandbox: true,
      action: { type: 'present_card' },
    });
    await suite.sim.presentCard(res.reference);
    const [event] = await eventsArrive(req.paymentId);
    expect(event).toMatchObject({
      gateway: 'stripe',
      paymentId: req.paymentId,
      reference: res.reference,
      status: 'succeeded',
      amountPaid: req.total,
      eventId: expect.stringMatching(/^evt_/),
    });
    expect(await statusOf(req, res.reference)).toMatchObject({
      status: 'succeeded',
      amountPaid: req.total,
      receipt: expect.stringMatching(/^ch_/),
    });
    // What Stripe was asked for: the total, lower-case currency, our ids, card_present, automatic capture.
    const [pi] = intentsFor(req.paymentId);
    expect(pi).toMatchObject({
      amount: req.total,
      currency: 'usd',
      capture_method: 'automatic',
      payment_method_types: ['card_present'],
    });
    expect(pi.metadata).toMatchObject({ paymentId: req.paymentId, orderId: req.orderId, readerId: 'tmr_reader_1' });
  });

  it('success with a payment method: confirmed at once', async () => {
    const req = request({ deviceId: undefined, sourceId: 'pm_card_visa' });
    expect(await suite.gw.initiate(req)).toMatchObject({ status: 'succeeded', sandbox: true });
  });

  it('decline on a reader: the webhook and status say failed with a readable reason', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'decline', awaitCard: true });
    const res = await suite.gw.initiate(req);
    expect(res.status).toBe('pending');
    await suite.sim.presentCard(res.reference);
    const [event] = await eventsArrive(req.paymentId);
    expect(event).toMatchObject({
      status: 'failed',
      failureReason: 'Your card has insufficient funds.',
      reference: res.reference,
    });
    expect(await statusOf(req, res.reference)).toEqual({
      status: 'failed',
      failureReason: 'Your card has insufficient funds.',
    });
  });

  it('decline with a payment method: failed at once (a 402 card_error is an answer, not an outage)', async () => {
    const scripted = request({ deviceId: undefined, sourceId: 'pm_card_visa' });
    suite.sim.script(scripted.total, { outcome: 'decline' });
    expect(await suite.gw.initiate(scripted)).toMatchObject({
      status: 'failed',
      failureReason: 'Your card has insufficient funds.',
      reference: expect.stringMatching(/^pi_/),
    });
    // Unscripted payments follow Stripe's test payment methods.
    expect(await suite.gw.initiate(request({ deviceId: undefined, sourceId: 'pm_card_chargeDeclined' }))).toMatchObject(
      {
        status: 'failed',
      },
    );
  });

  it('timeout, then status success: the retried initiate finds the same intent, one charge', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'timeout', afterTimeout: 'success', outcomeDelayMs: 50, hangMs: 3_000 });
    const err = await expectGatewayFailure(suite.gw.initiate(req), 'GatewayUnavailable', false);
    expect(err.message).toMatch(/timeout|timed out/i);
    const again = await suite.gw.initiate(req); // what the activity retry does
    expect(again.reference).toBe(intentsFor(req.paymentId)[0].id);
    await waitFor(async () => (await statusOf(req, again.reference)).status === 'succeeded', 'success');
    expect(intentsFor(req.paymentId)).toHaveLength(1);
  });

  it('timeout, then status failure', async () => {
    const req = request({ deviceId: undefined, sourceId: 'pm_card_visa' });
    suite.sim.script(req.paymentId, { outcome: 'timeout', afterTimeout: 'decline', hangMs: 3_000 });
    await expectGatewayFailure(suite.gw.initiate(req), 'GatewayUnavailable', false);
    const reference = intentsFor(req.paymentId)[0].id as string;
    expect(await statusOf(req, reference)).toMatchObject({
      status: 'failed',
      failureReason: expect.stringMatching(/insufficient funds/),
    });
    // The retry replays the saved decline: still one intent, still failed.
    expect(await suite.gw.initiate(req)).toMatchObject({ status: 'failed', reference });
    expect(intentsFor(req.paymentId)).toHaveLength(1);
  });

  it('duplicate webhook: the same event id twice', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'success', duplicateWebhook: true });
    await suite.gw.initiate(req);
    const events = await eventsArrive(req.paymentId, 2);
    expect(events[0]).toEqual(events[1]);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(1);
  });

  it('webhook before the initiate call returns', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'success', webhookBeforeResponse: true });
    const res = await suite.gw.initiate(req);
    const [event] = eventsFor(req.paymentId); // already here
    expect(event).toMatchObject({ status: 'succeeded', reference: res.reference });
    // The initiate result reflects the settled intent rather than asking for a card again.
    expect(res.status).toBe('succeeded');
  });

  it('cancel: takes the prompt off the reader and cancels the intent', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'abandon' });
    const res = await suite.gw.initiate(req);
    expect(await suite.gw.cancel({ reference: res.reference, idempotencyKey: `cancel-${req.idempotencyKey}` })).toEqual(
      {
        status: 'cancelled',
      },
    );
    expect(await statusOf(req, res.reference)).toMatchObject({ status: 'cancelled' });
    expect(suite.sim.requests()).toContain('POST /v1/terminal/readers/tmr_reader_1/cancel_action');
    const [event] = await eventsArrive(req.paymentId);
    expect(event.status).toBe('cancelled');
  });

  it('late success after cancel: cancel reports succeeded, the caller refunds', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'abandon', lateSuccessAfterCancel: true });
    const res = await suite.gw.initiate(req);
    expect(await suite.gw.cancel({ reference: res.reference, idempotencyKey: `cancel-${req.idempotencyKey}` })).toEqual(
      {
        status: 'succeeded',
      },
    );
    const refund = await suite.gw.refund({
      reference: res.reference,
      idempotencyKey: `auto-refund-${req.idempotencyKey}`,
      amount: req.total,
      currency: 'USD',
      reason: 'paid after cancel',
    });
    expect(refund).toMatchObject({ status: 'succeeded', reference: expect.stringMatching(/^re_/) });
    expect(suite.sim.refunds().filter((r) => r.payment_intent === res.reference)).toHaveLength(1);
  });

  it('5xx then recovery: a retryable error, then one charge under the same key', async () => {
    const req = request();
    // The reader takes a moment to approve, so the second attempt finds the intent still pending
    // however slowly the test machine gets there (CI once saw the default delay pass first).
    suite.sim.script(req.paymentId, { outcome: 'success', fail5xx: 1, outcomeDelayMs: 1_500 });
    await expectGatewayFailure(suite.gw.initiate(req), 'GatewayUnavailable', false);
    expect(intentsFor(req.paymentId)).toHaveLength(0);
    const res = await suite.gw.initiate(req);
    expect(res.status).toBe('pending');
    await waitFor(async () => (await statusOf(req, res.reference)).status === 'succeeded', 'success');
    expect(intentsFor(req.paymentId)).toHaveLength(1);
  });

  it('bad webhook signature → WebhookSignatureError', async () => {
    const req = request();
    await suite.gw.initiate(req);
    await eventsArrive(req.paymentId);
    const { body } = suite.sim.webhooks().find((d) => d.body.includes(req.paymentId))!;
    const t = Math.floor(Date.now() / 1000);
    const header = (secret: string, payload = body, ts = t) =>
      `t=${ts},v1=${createHmac('sha256', secret).update(`${ts}.${payload}`).digest('hex')}`;
    const parse =
      (headers: Record<string, string | undefined>, rawBody = body) =>
      () =>
        suite.gw.parseWebhook({ headers, rawBody, url: 'http://x/webhooks/stripe' });

    expect(parse({ 'stripe-signature': header(suite.sim.webhookSecret) })()).toMatchObject({
      paymentId: req.paymentId,
    }); // the control
    expect(parse({})).toThrow(WebhookSignatureError);
    expect(parse({ 'stripe-signature': `t=${t},v1=${'0'.repeat(64)}` })).toThrow(WebhookSignatureError);
    expect(parse({ 'stripe-signature': header('whsec_someone_else') })).toThrow(WebhookSignatureError);
    expect(
      parse(
        { 'stripe-signature': header(suite.sim.webhookSecret) },
        body.replace(`"amount": ${req.total}`, `"amount": ${req.total + 1}`),
      ),
    ).toThrow(WebhookSignatureError);
    expect(parse({ 'stripe-signature': header(suite.sim.webhookSecret, body, t - 3600) })).toThrow(
      WebhookSignatureError,
    ); // a replay from an hour ago
    // Every delivery the simulator made verified.
    expect(received.filter((r) => r.error)).toEqual([]);
  });

  it('idempotency: initiate twice with the same key → one intent; the same key with other params is refused', async () => {
    const req = request({ deviceId: undefined, sourceId: 'pm_card_visa' });
    const first = await suite.gw.initiate(req);
    const second = await suite.gw.initiate(req);
    expect(second).toEqual(first);
    expect(intentsFor(req.paymentId)).toHaveLength(1);
    await expectGatewayFailure(
      suite.gw.initiate({ ...req, total: req.total + 1, amount: req.amount + 1 }),
      'GatewayRejected',
      true,
    );
    expect(intentsFor(req.paymentId)).toHaveLength(1);
  });

  it('refund: partial, rest, and too much; a repeated refund key refunds once', async () => {
    const req = request({ deviceId: undefined, sourceId: 'pm_card_visa', total: 5000 });
    const res = await suite.gw.initiate(req);
    const refund = (idempotencyKey: string, amount: number) =>
      suite.gw.refund({
        reference: res.reference,
        idempotencyKey,
        amount,
        currency: 'USD',
        reason: 'customer changed their mind',
      });
    const partial = await refund('refund-a', 2000);
    expect(partial).toMatchObject({ status: 'succeeded' });
    expect(await refund('refund-a', 2000)).toEqual(partial);
    expect(await refund('refund-b', 3000)).toMatchObject({ status: 'succeeded' });
    expect(await refund('refund-c', 1)).toMatchObject({
      status: 'failed',
      failureReason: expect.stringMatching(/already been refunded/),
    });
    const mine = suite.sim.refunds().filter((r) => r.payment_intent === res.reference);
    expect(mine.map((r) => r.amount)).toEqual([2000, 3000]);
    expect(mine[0].metadata).toEqual({ reason: 'customer changed their mind' });
  });

  it('stripe-mock stays in the loop: what it rejects never reaches the simulated state', async () => {
    const before = suite.sim.paymentIntents().length;
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${suite.sim.url}/v1/payment_intents`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${suite.sim.secretKey}`,
          'content-type': 'application/x-www-form-urlencoded',
          'stripe-version': '2025-09-30.clover',
          ...headers,
        },
        body,
      });
    const notNumeric = await post('amount=abc&currency=usd');
    expect(notNumeric.status).toBe(400);
    expect(((await notNumeric.json()) as { error: { message: string } }).error.message).toMatch(/amount/);
    expect((await post('amount=100&currency=usd&allowed_payment_method_types[]=card_present')).status).toBe(400); // not in this API version
    expect((await post('amount=100&currency=usd', { 'stripe-version': '2026-10-28.endive' })).status).toBe(400); // -strict-version-check
    expect((await post('amount=100&currency=usd', { authorization: '' })).status).toBe(401);
    expect(suite.sim.paymentIntents().length).toBe(before);
    expect((await post('amount=100&currency=usd')).status).toBe(200); // the control
    expect(suite.sim.paymentIntents().length).toBe(before + 1);
  });
});
