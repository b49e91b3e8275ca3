/**
 * The Airtel Money adapter (typed fetch client) against the Airtel simulator, over real HTTP on
 * loopback; callbacks land on a small local receiver registered as the app's callback URL.
 */
import {
  airtelConfigFromEnv,
  airtelMsisdn,
  createAirtelGateway,
  type AirtelConfig,
} from '../activities/payments/airtel';
import type { InitiateRequest, PaymentGateway, WebhookEvent } from '../core/gateway';
import { startAirtelSimulator, type AirtelSim } from '../simulators/airtel';
import { startCallbackReceiver, type CallbackReceiver, type ReceivedCallback } from '../simulators/http';
import { gatewayRejection, parseReceivedCallback, sleep } from './support/gateways';

let sim: AirtelSim;
let rx: CallbackReceiver;
let gw: PaymentGateway;

function config(over: Partial<AirtelConfig> = {}): AirtelConfig {
  return {
    baseUrl: sim.url,
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    country: 'KE',
    currency: 'KES',
    sandbox: true,
    ...over,
  };
}

let seq = 0;
function request(over: Partial<InitiateRequest> = {}): InitiateRequest {
  seq++;
  return {
    paymentId: `pay-${seq}`,
    orderId: `order-${seq}`,
    orderNumber: 7,
    idempotencyKey: `payment-order-${seq}-1`,
    total: 25_000,
    amount: 25_000,
    tip: 0,
    fee: 0,
    currency: 'KES',
    description: 'Order #7',
    phone: '254733123456',
    callbackUrl: `${rx.url}/webhooks/airtel/tok${seq}`,
    ...over,
  };
}

const statusOf = (reference: string) =>
  gw.status({ reference, idempotencyKey: reference, total: 25_000, currency: 'KES' });
const parse = (cb: ReceivedCallback): WebhookEvent => parseReceivedCallback(gw, cb);
const oauthCalls = () => sim.requests.filter((r) => r.path === '/auth/oauth2/token').length;
const payRequests = () => sim.requests.filter((r) => r.path === '/merchant/v1/payments/');

beforeEach(async () => {
  rx = await startCallbackReceiver();
  sim = await startAirtelSimulator({ callbackUrl: `${rx.url}/webhooks/airtel` });
  gw = createAirtelGateway(config());
});

afterEach(async () => {
  await sim.close();
  await rx.close();
});

describe('Airtel Money collection happy path', () => {
  test('initiate → pending (reference = our transaction id); callback → succeeded with receipt; status() agrees', async () => {
    const req = request();
    const res = await gw.initiate(req);
    expect(res).toMatchObject({
      status: 'pending',
      reference: req.idempotencyKey,
      sandbox: true,
      action: { type: 'confirm_on_phone' },
    });
    expect(res.action?.message).toContain('KES 250');

    const [pay] = payRequests();
    expect(pay.headers).toMatchObject({
      'x-country': 'KE',
      'x-currency': 'KES',
      authorization: expect.stringMatching(/^Bearer /),
    });
    expect(pay.body).toEqual({
      reference: 'Order #7',
      subscriber: { country: 'KE', currency: 'KES', msisdn: '733123456' },
      transaction: { amount: 250, country: 'KE', currency: 'KES', id: req.idempotencyKey },
    });

    const [cb] = await rx.waitFor(1);
    const e = parse(cb);
    const airtelMoneyId = sim.payments.get(req.idempotencyKey)!.airtelMoneyId;
    expect(e).toEqual({
      gateway: 'airtel',
      reference: req.idempotencyKey,
      status: 'succeeded',
      receipt: airtelMoneyId,
      eventId: `${req.idempotencyKey}:TS`,
    });
    expect(await statusOf(res.reference)).toEqual({ status: 'succeeded', receipt: airtelMoneyId });
  });

  test('a retried initiate with the same idempotency key is de-duplicated by Airtel: one prompt, one callback', async () => {
    const req = request();
    const a = await gw.initiate(req);
    const b = await gw.initiate(req);
    expect(b).toEqual(a);
    expect(payRequests()).toHaveLength(2);
    expect(sim.payments.size).toBe(1);
    expect(sim.payments.get(req.idempotencyKey)!.requests).toBe(2);
    await rx.waitFor(1);
    await sleep(100);
    expect(rx.received).toHaveLength(1);
  });
});

describe('declines (TF)', () => {
  test.each([
    ['DP00800001007', 'insufficient funds', 'Not enough balance.'],
    ['DP00800001002', 'wrong PIN', 'Incorrect PIN entered.'],
    ['DP00800001024', 'timed out', 'Transaction timed out.'],
  ])('%s → failed (%s); the callback carries Airtel’s message', async (code, reason, message) => {
    sim.script('254733000001', { outcome: 'decline', resultCode: code });
    const req = request({ phone: '254733000001' });
    const res = await gw.initiate(req);
    expect(res.status).toBe('pending');
    const [cb] = await rx.waitFor(1);
    expect(parse(cb)).toEqual({
      gateway: 'airtel',
      reference: req.idempotencyKey,
      status: 'failed',
      failureReason: message,
      eventId: `${req.idempotencyKey}:TF`,
    });
    expect(await statusOf(res.reference)).toEqual({ status: 'failed', failureReason: reason });
  });

  test('an unknown code falls back to the transaction message', async () => {
    sim.script('254733000002', { outcome: 'decline', resultCode: 'DP00800009999', message: 'Subscriber barred' });
    const res = await gw.initiate(request({ phone: '254733000002' }));
    await rx.waitFor(1);
    expect(await statusOf(res.reference)).toEqual({ status: 'failed', failureReason: 'Subscriber barred' });
  });
});

describe('no callback: the enquiry decides', () => {
  test('timeout then enquiry success (TIP, TIP, TS)', async () => {
    sim.script('254734000001', { outcome: 'timeout', pendingQueries: 2 });
    const res = await gw.initiate(request({ phone: '254734000001' }));
    expect(await statusOf(res.reference)).toEqual({ status: 'pending' });
    expect(await statusOf(res.reference)).toEqual({ status: 'pending' });
    expect(await statusOf(res.reference)).toMatchObject({ status: 'succeeded', receipt: expect.stringMatching(/^MP/) });
    await sleep(150);
    expect(rx.received).toHaveLength(0);
  });

  test('timeout then enquiry failure', async () => {
    sim.script('254734000002', { outcome: 'timeout', pendingQueries: 1, resultCode: 'DP00800001029' });
    const res = await gw.initiate(request({ phone: '254734000002' }));
    expect(await statusOf(res.reference)).toEqual({ status: 'pending' });
    expect(await statusOf(res.reference)).toEqual({ status: 'failed', failureReason: 'expired' });
  });

  test('TIP for N enquiries even after the customer answered, then the final status', async () => {
    sim.script('254734000003', { outcome: 'success', pendingQueries: 3, callbackDelayMs: 10 });
    const res = await gw.initiate(request({ phone: '254734000003' }));
    await rx.waitFor(1);
    for (let i = 0; i < 3; i++) expect(await statusOf(res.reference)).toEqual({ status: 'pending' });
    expect((await statusOf(res.reference)).status).toBe('succeeded');
  });

  test('a late callback arrives after the enquiries went quiet', async () => {
    sim.script('254734000004', { outcome: 'timeout', pendingQueries: 5, lateCallbackMs: 200 });
    const res = await gw.initiate(request({ phone: '254734000004' }));
    expect(await statusOf(res.reference)).toEqual({ status: 'pending' });
    expect(rx.received).toHaveLength(0);
    expect(parse((await rx.waitFor(1, 3000))[0])).toMatchObject({ reference: res.reference, status: 'succeeded' });
  });

  test('an id Airtel does not know stays pending; cancel() only reports the status', async () => {
    expect(await statusOf('payment-unknown-1')).toEqual({ status: 'pending' });
    sim.script('254734000005', { outcome: 'timeout', pendingQueries: 3 });
    const res = await gw.initiate(request({ phone: '254734000005' }));
    expect(await gw.cancel({ reference: res.reference, idempotencyKey: res.reference })).toEqual({ status: 'pending' });
  });
});

describe('callback delivery quirks', () => {
  test('a duplicate callback carries the same eventId', async () => {
    sim.script('254735000001', { outcome: 'success', duplicateCallback: true });
    const req = request({ phone: '254735000001' });
    await gw.initiate(req);
    const [a, b] = await rx.waitFor(2);
    expect(parse(a)).toEqual(parse(b));
    expect(parse(a).eventId).toBe(`${req.idempotencyKey}:TS`);
  });

  test('a callback that arrives before the initiate response names the same transaction', async () => {
    sim.script('254735000002', { outcome: 'success', callbackBeforeResponse: true });
    const res = await gw.initiate(request({ phone: '254735000002' }));
    expect(rx.received).toHaveLength(1);
    expect(parse(rx.received[0])).toMatchObject({ reference: res.reference, status: 'succeeded' });
  });

  test('callbacks go to the app’s registered URL, not the per-payment callbackUrl (Airtel has no such field)', async () => {
    const req = request();
    await gw.initiate(req);
    const [cb] = await rx.waitFor(1);
    expect(cb.path).toBe('/webhooks/airtel');
    expect(JSON.stringify(payRequests()[0].body)).not.toContain('tok');
  });
});

describe('errors and retries', () => {
  test('5xx is a retryable error, and the next call succeeds', async () => {
    sim.script('254736000001', { outcome: 'success', failInitiate5xx: 2 });
    const req = request({ phone: '254736000001' });
    for (let i = 0; i < 2; i++) {
      const e = await gatewayRejection(gw.initiate(req));
      expect(e.type).toBe('GatewayUnavailable');
      expect(e.nonRetryable).toBe(false);
      expect(e.message).toMatch(/HTTP 500/);
    }
    expect((await gw.initiate(req)).status).toBe('pending');
    expect(sim.payments.size).toBe(1);
  });

  test('a connection failure is retryable too', async () => {
    await sim.close();
    const e = await gatewayRejection(gw.initiate(request()));
    expect(e.type).toBe('GatewayUnavailable');
    expect(e.nonRetryable).toBe(false);
  });

  test('one OAuth call serves several requests; a revoked token is replaced once', async () => {
    const res = await gw.initiate(request());
    await Promise.all([statusOf(res.reference), statusOf(res.reference), statusOf(res.reference)]);
    await gw.cancel({ reference: res.reference, idempotencyKey: res.reference });
    expect(oauthCalls()).toBe(1);
    sim.revokeTokens();
    expect(['pending', 'succeeded']).toContain((await statusOf(res.reference)).status);
    expect(oauthCalls()).toBe(2);
  });

  test('wrong client credentials → a clear, non-retryable error', async () => {
    gw = createAirtelGateway(config({ clientSecret: 'nope' }));
    const e = await gatewayRejection(gw.initiate(request()));
    expect(e.nonRetryable).toBe(true);
    expect(e.message).toMatch(/client id\/secret \(HTTP 401\).*AIRTEL_CLIENT_SECRET/);
    expect(payRequests()).toHaveLength(0);
  });

  test('a country/currency the merchant account does not have is refused (non-retryable)', async () => {
    gw = createAirtelGateway(config({ country: 'UG', currency: 'UGX' }));
    const e = await gatewayRejection(gw.initiate(request({ currency: 'UGX', phone: '256701234567' })));
    expect(e.nonRetryable).toBe(true);
    expect(e.message).toMatch(/HTTP 400.*X-Country/);
  });
});

describe('Airtel rules', () => {
  test('amounts in major units, whole only; currency must be the account’s', async () => {
    expect(await gw.initiate(request({ total: 25_050 }))).toEqual({
      status: 'failed',
      reference: '',
      failureReason: 'Airtel Money takes whole amounts only: KES 250.50 is not a whole amount',
      sandbox: true,
    });
    expect(await gw.initiate(request({ currency: 'UGX' }))).toMatchObject({
      status: 'failed',
      failureReason: 'Airtel Money charges KES here, not UGX',
    });
    expect(sim.requests).toHaveLength(0);
  });

  test('msisdn goes without the country code', async () => {
    expect(airtelMsisdn('254733123456', 'KE')).toBe('733123456');
    expect(airtelMsisdn('+254 733 123 456', 'KE')).toBe('733123456');
    expect(airtelMsisdn('0733123456', 'KE')).toBe('733123456');
    expect(airtelMsisdn('256701234567', 'UG')).toBe('701234567');
    expect(airtelMsisdn('2547331', 'KE')).toBeUndefined();
    expect(await gw.initiate(request({ phone: 'abc' }))).toMatchObject({
      status: 'failed',
      failureReason: expect.stringMatching(/invalid Airtel Money phone number/),
    });
  });
});

describe('refunds', () => {
  test('a paid transaction is refunded by its airtel_money_id; again is harmless', async () => {
    const res = await gw.initiate(request());
    await rx.waitFor(1);
    const moneyId = sim.payments.get(res.reference)!.airtelMoneyId!;
    const r1 = await gw.refund({
      reference: res.reference,
      idempotencyKey: 'refund-1',
      amount: 25_000,
      currency: 'KES',
      reason: 'returned',
    });
    expect(r1).toEqual({ status: 'succeeded', reference: expect.stringMatching(/^RF/) });
    const refundReq = sim.requests.find((r) => r.path === '/standard/v1/payments/refund')!;
    // Our refund transaction id goes with it: its enquiry says where a refund in progress stands.
    expect(refundReq.body).toEqual({ transaction: { airtel_money_id: moneyId, id: 'refund-1' } });
    expect(refundReq.headers).toMatchObject({ 'x-country': 'KE', 'x-currency': 'KES' });
    expect(
      await gw.refund({
        reference: res.reference,
        idempotencyKey: 'refund-1',
        amount: 25_000,
        currency: 'KES',
        reason: 'returned',
      }),
    ).toEqual(r1);
  });

  test('an unpaid transaction has nothing to refund', async () => {
    sim.script('254737000001', { outcome: 'decline' });
    const res = await gw.initiate(request({ phone: '254737000001' }));
    await rx.waitFor(1);
    expect(
      await gw.refund({ reference: res.reference, idempotencyKey: 'r', amount: 25_000, currency: 'KES', reason: 'x' }),
    ).toMatchObject({
      status: 'failed',
      failureReason: 'nothing to refund: Airtel reports the payment failed (insufficient funds)',
    });
  });
});

describe('parseWebhook', () => {
  test('malformed bodies throw a plain Error("malformed callback")', () => {
    for (const rawBody of [
      'nope',
      '{}',
      '{"transaction":{}}',
      '{"transaction":{"id":"x"}}',
      '{"transaction":{"status_code":"TS"}}',
      'null',
    ]) {
      expect(() => gw.parseWebhook({ headers: {}, rawBody, url: 'http://x' })).toThrow(new Error('malformed callback'));
    }
  });
});

describe('airtelConfigFromEnv', () => {
  test('none set → undefined; partial → what is missing; defaults KE/KES', () => {
    expect(airtelConfigFromEnv({})).toBeUndefined();
    expect(() => airtelConfigFromEnv({ AIRTEL_CLIENT_ID: 'x' })).toThrow(
      /AIRTEL_BASE_URL, AIRTEL_CLIENT_SECRET are missing/,
    );
    expect(
      airtelConfigFromEnv({
        AIRTEL_BASE_URL: 'https://openapi.airtel.africa/',
        AIRTEL_CLIENT_ID: 'i',
        AIRTEL_CLIENT_SECRET: 's',
      }),
    ).toEqual({
      baseUrl: 'https://openapi.airtel.africa',
      clientId: 'i',
      clientSecret: 's',
      country: 'KE',
      currency: 'KES',
      sandbox: false,
    });
    expect(
      airtelConfigFromEnv({
        AIRTEL_BASE_URL: 'https://openapiuat.airtel.africa',
        AIRTEL_CLIENT_ID: 'i',
        AIRTEL_CLIENT_SECRET: 's',
        AIRTEL_COUNTRY: 'ug',
        AIRTEL_CURRENCY: 'ugx',
      }),
    ).toMatchObject({
      country: 'UG',
      currency: 'UGX',
      sandbox: true,
    });
  });
});
