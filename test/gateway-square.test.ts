import { createHmac } from 'node:crypto';
import { createSquareGateway, squareConfigFromEnv } from '../activities/payments/square';
import { WebhookSignatureError } from '../core/gateway';
import { startSquareSimulator } from '../simulators/square';
import { expectGatewayFailure, waitFor } from './support/gateways';
import { gatewaySuite } from './support/gateway-suite';

/*
 * The Square adapter (square SDK v46) against the Square simulator over real HTTP, with signed
 * webhooks delivered to a local receiver that hands them to parseWebhook, as /webhooks/square would.
 */

const suite = gatewaySuite({
  start: () => startSquareSimulator(),
  webhookPath: '/webhooks/square',
  // Square signs the notification URL: the receiver's.
  gateway: (sim, webhookUrl) => createSquareGateway(sim.config({ webhookUrl, timeoutMs: 1_500 })),
  requestDefaults: { orderNumber: 7, currency: 'USD', description: 'Order 7', deviceId: 'device-1' },
  firstAmount: 2000,
});
const { request, statusOf, eventsFor, eventsArrive, received } = suite;
const checkoutsFor = (paymentId: string) => suite.sim.checkouts().filter((c) => c.reference_id === paymentId);
const paymentsFor = (paymentId: string) => suite.sim.payments().filter((p) => p.reference_id === paymentId);

describe('square adapter (Terminal and card-nonce flows)', () => {
  it('reads its config from the environment', () => {
    const env = {
      SQUARE_BASE_URL: 'http://127.0.0.1:9999/',
      SQUARE_ACCESS_TOKEN: 'EAAAtoken',
      SQUARE_LOCATION_ID: 'L1',
      SQUARE_WEBHOOK_SIGNATURE_KEY: 'key',
      PUBLIC_BASE_URL: 'https://pos.example.com/',
    };
    expect(squareConfigFromEnv(env)).toEqual({
      baseUrl: 'http://127.0.0.1:9999',
      accessToken: 'EAAAtoken',
      locationId: 'L1',
      webhookSignatureKey: 'key',
      webhookUrl: 'https://pos.example.com/webhooks/square',
      sandbox: true,
    });
    expect(squareConfigFromEnv({ ...env, SQUARE_BASE_URL: 'https://connect.squareup.com' }).sandbox).toBe(false);
    expect(() => squareConfigFromEnv({ ...env, SQUARE_ACCESS_TOKEN: '' })).toThrow(/SQUARE_ACCESS_TOKEN/);
  });

  it('success on a Terminal: pending with present_card, then webhook and status say succeeded', async () => {
    const req = request({ total: 2550, amount: 2300, tip: 250 });
    const res = await suite.gw.initiate(req);
    expect(res).toMatchObject({ status: 'pending', sandbox: true, action: { type: 'present_card' } });
    const [event] = await eventsArrive(req.paymentId);
    expect(event).toMatchObject({
      gateway: 'square',
      paymentId: req.paymentId,
      reference: res.reference,
      status: 'succeeded',
      amountPaid: 2550,
      eventId: expect.any(String),
    });
    expect(await statusOf(req, res.reference)).toMatchObject({
      status: 'succeeded',
      amountPaid: 2550,
      receipt: paymentsFor(req.paymentId)[0].id,
    });
    // What Square was asked for: the total, our payment id as reference, the device, no second tip prompt.
    expect(checkoutsFor(req.paymentId)[0]).toMatchObject({
      id: res.reference,
      amount_money: { amount: 2550, currency: 'USD' },
      device_options: { device_id: 'device-1', tip_settings: { allow_tipping: false } },
    });
  });

  it('success with a card nonce: completed at once, amount and tip separate', async () => {
    const req = request({ deviceId: undefined, sourceId: 'cnon:card-nonce-ok', total: 1100, amount: 1000, tip: 100 });
    const res = await suite.gw.initiate(req);
    expect(res).toMatchObject({ status: 'succeeded' });
    expect(paymentsFor(req.paymentId)[0]).toMatchObject({
      id: res.reference,
      amount_money: { amount: 1000 },
      tip_money: { amount: 100 },
      total_money: { amount: 1100 },
      location_id: suite.sim.locationId,
    });
    const [event] = await eventsArrive(req.paymentId);
    expect(event).toMatchObject({ status: 'succeeded', reference: res.reference, amountPaid: 1100 });
  });

  it('decline with a card nonce: failed with a readable reason', async () => {
    const req = request({ deviceId: undefined, sourceId: 'cnon:card-nonce-ok' });
    suite.sim.script(req.total, { outcome: 'decline' });
    expect(await suite.gw.initiate(req)).toMatchObject({
      status: 'failed',
      failureReason: 'Card declined',
      reference: paymentsFor(req.paymentId)[0].id,
    });
    expect(
      await suite.gw.initiate(request({ deviceId: undefined, sourceId: 'cnon:card-nonce-declined' })),
    ).toMatchObject({
      status: 'failed',
      failureReason: 'Card declined',
    });
  });

  it('decline on a Terminal: the checkout times out unpaid → failed', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'decline' });
    const res = await suite.gw.initiate(req);
    const [event] = await eventsArrive(req.paymentId);
    expect(event).toMatchObject({ status: 'failed', failureReason: expect.stringMatching(/deadline/) });
    expect(await statusOf(req, res.reference)).toMatchObject({ status: 'failed' });
  });

  it('timeout, then status success: the retried initiate finds the same checkout, one charge', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'timeout', afterTimeout: 'success', outcomeDelayMs: 50, hangMs: 3_000 });
    const err = await expectGatewayFailure(suite.gw.initiate(req), 'GatewayUnavailable', false);
    expect(err.message).toMatch(/timed out/);
    const again = await suite.gw.initiate(req);
    expect(again.reference).toBe(checkoutsFor(req.paymentId)[0].id);
    await waitFor(async () => (await statusOf(req, again.reference)).status === 'succeeded', 'success');
    expect(checkoutsFor(req.paymentId)).toHaveLength(1);
    expect(paymentsFor(req.paymentId)).toHaveLength(1);
  });

  it('timeout, then status failure', async () => {
    const req = request({ deviceId: undefined, sourceId: 'cnon:card-nonce-ok' });
    suite.sim.script(req.paymentId, { outcome: 'timeout', afterTimeout: 'decline', hangMs: 3_000 });
    await expectGatewayFailure(suite.gw.initiate(req), 'GatewayUnavailable', false);
    const [payment] = paymentsFor(req.paymentId);
    expect(await statusOf(req, payment.id as string)).toEqual({ status: 'failed', failureReason: 'Card declined' });
    expect(await suite.gw.initiate(req)).toMatchObject({ status: 'failed', reference: payment.id }); // the saved decline
    expect(paymentsFor(req.paymentId)).toHaveLength(1);
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
    expect(res.status).toBe('pending'); // the answer was written before the terminal finished
    expect(await statusOf(req, res.reference)).toMatchObject({ status: 'succeeded' });
  });

  it('cancel: the terminal checkout is cancelled by the seller', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'abandon' });
    const res = await suite.gw.initiate(req);
    expect(await suite.gw.cancel({ reference: res.reference, idempotencyKey: `cancel-${req.idempotencyKey}` })).toEqual(
      {
        status: 'cancelled',
      },
    );
    expect(await statusOf(req, res.reference)).toMatchObject({ status: 'cancelled' });
    const [event] = await eventsArrive(req.paymentId);
    expect(event.status).toBe('cancelled');
  });

  it('late success after cancel: cancel reports succeeded, the caller refunds the checkout', async () => {
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
    expect(refund).toMatchObject({ status: 'succeeded' });
    expect(suite.sim.refunds().filter((r) => r.payment_id === paymentsFor(req.paymentId)[0].id)).toHaveLength(1);
  });

  it('cancel by idempotency key when initiate never told us the reference', async () => {
    const req = request({ deviceId: undefined, sourceId: 'cnon:card-nonce-ok' });
    suite.sim.script(req.paymentId, { outcome: 'success', fail5xx: 1 });
    await expectGatewayFailure(suite.gw.initiate(req), 'GatewayUnavailable', false);
    expect(await suite.gw.cancel({ reference: '', idempotencyKey: req.idempotencyKey })).toEqual({
      status: 'cancelled',
    });
    expect(suite.sim.requests()).toContain('POST /v2/payments/cancel');
  });

  it('5xx then recovery: a retryable error, then one charge under the same key', async () => {
    const req = request({ deviceId: undefined, sourceId: 'cnon:card-nonce-ok' });
    suite.sim.script(req.paymentId, { outcome: 'success', fail5xx: 1 });
    await expectGatewayFailure(suite.gw.initiate(req), 'GatewayUnavailable', false);
    expect(paymentsFor(req.paymentId)).toHaveLength(0);
    expect(await suite.gw.initiate(req)).toMatchObject({ status: 'succeeded' });
    expect(paymentsFor(req.paymentId)).toHaveLength(1);
  });

  it('bad webhook signature → WebhookSignatureError (constant-time HMAC over URL + body)', async () => {
    const req = request();
    await suite.gw.initiate(req);
    await eventsArrive(req.paymentId);
    const { body } = suite.sim.webhooks().find((d) => d.body.includes(req.paymentId))!;
    const sign = (key: string, url: string, payload: string) =>
      createHmac('sha256', key)
        .update(url + payload)
        .digest('base64');
    const parse =
      (headers: Record<string, string | undefined>, rawBody = body) =>
      () =>
        suite.gw.parseWebhook({ headers, rawBody, url: suite.webhookUrl });
    expect(
      parse({ 'x-square-hmacsha256-signature': sign(suite.sim.webhookSignatureKey, suite.webhookUrl, body) })(),
    ).toMatchObject({ paymentId: req.paymentId });
    expect(parse({})).toThrow(WebhookSignatureError);
    expect(parse({ 'x-square-hmacsha256-signature': 'not-base64-and-short' })).toThrow(WebhookSignatureError);
    expect(parse({ 'x-square-hmacsha256-signature': sign('wrong-key', suite.webhookUrl, body) })).toThrow(
      WebhookSignatureError,
    );
    expect(
      parse({
        'x-square-hmacsha256-signature': sign(
          suite.sim.webhookSignatureKey,
          'https://elsewhere.example/webhooks/square',
          body,
        ),
      }),
    ).toThrow(WebhookSignatureError);
    expect(
      parse(
        { 'x-square-hmacsha256-signature': sign(suite.sim.webhookSignatureKey, suite.webhookUrl, body) },
        body.replace('COMPLETED', 'CANCELED'),
      ),
    ).toThrow(WebhookSignatureError);
    expect(received.filter((r) => r.error)).toEqual([]);
  });

  it('idempotency: initiate twice with the same key → one checkout; the same key with another amount is refused', async () => {
    const req = request();
    suite.sim.script(req.paymentId, { outcome: 'abandon' });
    const first = await suite.gw.initiate(req);
    expect(await suite.gw.initiate(req)).toEqual(first);
    expect(checkoutsFor(req.paymentId)).toHaveLength(1);
    await expectGatewayFailure(suite.gw.initiate({ ...req, total: req.total + 1 }), 'GatewayRejected', true);
    expect(checkoutsFor(req.paymentId)).toHaveLength(1);
  });

  it('refund: partial, rest, too much; a repeated refund key refunds once', async () => {
    const req = request({ deviceId: undefined, sourceId: 'cnon:card-nonce-ok', total: 4000 });
    const res = await suite.gw.initiate(req);
    const refund = (idempotencyKey: string, amount: number) =>
      suite.gw.refund({ reference: res.reference, idempotencyKey, amount, currency: 'USD', reason: 'wrong order' });
    const partial = await refund('refund-a', 1500);
    expect(partial).toMatchObject({ status: 'succeeded', reference: expect.any(String) });
    expect(await refund('refund-a', 1500)).toEqual(partial);
    expect(await refund('refund-b', 2500)).toMatchObject({ status: 'succeeded' });
    expect(await refund('refund-c', 1)).toMatchObject({
      status: 'failed',
      failureReason: expect.stringMatching(/REFUND_AMOUNT_INVALID/),
    });
    expect(
      suite.sim
        .refunds()
        .filter((r) => r.payment_id === res.reference)
        .map((r) => (r.amount_money as { amount: number }).amount),
    ).toEqual([1500, 2500]);
  });

  it('a wrong access token is a non-retryable rejection', async () => {
    const bad = createSquareGateway(suite.sim.config({ accessToken: 'EAAAwrong' }));
    const err = await expectGatewayFailure(bad.initiate(request()), 'GatewayRejected', true);
    expect(err.message).toMatch(/401.*UNAUTHORIZED/);
  });
});
