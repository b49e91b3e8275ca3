/**
 * The M-Pesa adapter (mpesa-node over axios 1.x) against the Daraja simulator, over real HTTP on
 * loopback; callbacks land on a small local receiver standing in for /webhooks/mpesa/:token.
 */
import {
  createMpesaGateway,
  darajaPassword,
  darajaPhone,
  darajaTimestamp,
  mpesaConfigFromEnv,
  type MpesaConfig,
} from '../activities/payments/mpesa';
import type { InitiateRequest, PaymentGateway, WebhookEvent } from '../core/gateway';
import { startDarajaSimulator, type DarajaSim } from '../simulators/daraja';
import {
  startCallbackReceiver,
  startJsonServer,
  type CallbackReceiver,
  type ReceivedCallback,
  type SimResponse,
} from '../simulators/http';
import { gatewayRejection, parseReceivedCallback, sleep } from './support/gateways';

let sim: DarajaSim;
let rx: CallbackReceiver;
let gw: PaymentGateway;

function config(over: Partial<MpesaConfig> = {}): MpesaConfig {
  return {
    baseUrl: sim.url,
    consumerKey: sim.consumerKey,
    consumerSecret: sim.consumerSecret,
    shortCode: sim.shortCode,
    passkey: sim.passkey,
    sandbox: true,
    initiatorName: 'tillflow-api',
    initiatorPassword: 'Safaricom999!*!',
    resultUrl: `${rx.url}/mpesa/reversal-result`,
    ...over,
  };
}

let seq = 0;
function request(over: Partial<InitiateRequest> = {}): InitiateRequest {
  seq++;
  return {
    paymentId: `pay-${seq}`,
    orderId: `0b6f1c1e-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    orderNumber: 42,
    idempotencyKey: `payment-order-${seq}-1`,
    total: 15_000,
    amount: 15_000,
    tip: 0,
    fee: 0,
    currency: 'KES',
    description: 'Order #42',
    phone: '254712345678',
    callbackUrl: `${rx.url}/webhooks/mpesa/tok${seq}`,
    ...over,
  };
}

const statusOf = (reference: string) => gw.status({ reference, idempotencyKey: 'k', total: 15_000, currency: 'KES' });
const parse = (cb: ReceivedCallback): WebhookEvent => parseReceivedCallback(gw, cb);
const oauthCalls = () => sim.requests.filter((r) => r.path === '/oauth/v1/generate').length;
const pushBodies = () =>
  sim.requests
    .filter((r) => r.path === '/mpesa/stkpush/v1/processrequest')
    .map((r) => r.body as Record<string, unknown>);

beforeEach(async () => {
  sim = await startDarajaSimulator();
  rx = await startCallbackReceiver();
  gw = createMpesaGateway(config());
});

afterEach(async () => {
  await sim.close();
  await rx.close();
});

describe('M-Pesa Express happy path', () => {
  test('initiate → pending with the CheckoutRequestID; the callback parses to succeeded with amount and receipt; status() agrees', async () => {
    const req = request();
    const res = await gw.initiate(req);
    expect(res).toMatchObject({ status: 'pending', sandbox: true, action: { type: 'confirm_on_phone' } });
    expect(res.reference).toMatch(/^ws_CO_\d+$/);
    expect(res.action?.message).toContain('KES 150');

    const [body] = pushBodies();
    expect(body).toMatchObject({
      BusinessShortCode: sim.shortCode,
      TransactionType: 'CustomerPayBillOnline',
      Amount: 150,
      PartyA: '254712345678',
      PartyB: sim.shortCode,
      PhoneNumber: '254712345678',
      CallBackURL: req.callbackUrl,
      AccountReference: 'ORDER42',
      TransactionDesc: 'Order #42',
    });

    const [cb] = await rx.waitFor(1);
    expect(cb.path).toBe(new URL(req.callbackUrl!).pathname);
    const e = parse(cb);
    const push = sim.pushes.get(res.reference)!;
    expect(e).toEqual({
      gateway: 'mpesa',
      reference: res.reference,
      status: 'succeeded',
      amountPaid: 15_000,
      receipt: push.receipt,
      eventId: `${res.reference}:0`,
    });
    expect(e.receipt).toMatch(/^[A-Z0-9]{10}$/);
    expect(await statusOf(res.reference)).toEqual({ status: 'succeeded' });
  });

  test('CustomerBuyGoodsOnline pays the till (PartyB) under the store shortcode', async () => {
    gw = createMpesaGateway(config({ transactionType: 'CustomerBuyGoodsOnline', tillNumber: '5123456' }));
    expect((await gw.initiate(request())).status).toBe('pending');
    expect(pushBodies()[0]).toMatchObject({
      TransactionType: 'CustomerBuyGoodsOnline',
      BusinessShortCode: sim.shortCode,
      PartyB: '5123456',
    });
  });

  test('an amount the callback reports differently comes through as amountPaid (the workflow compares it)', async () => {
    sim.script('254712345678', { outcome: 'success', amountOverride: 149 });
    const res = await gw.initiate(request());
    const [cb] = await rx.waitFor(1);
    expect(parse(cb)).toMatchObject({ reference: res.reference, status: 'succeeded', amountPaid: 14_900 });
  });
});

describe('declines: ResultCode mapping', () => {
  test.each([
    [1, 'insufficient funds'],
    [1032, 'cancelled by customer'],
    [1037, 'phone unreachable'],
    [2001, 'wrong PIN'],
    [1001, 'another transaction in progress'],
    [1019, 'expired'],
  ])('ResultCode %i → failed, %s (callback and query)', async (code, reason) => {
    sim.script('254711000001', { outcome: 'decline', resultCode: code });
    const res = await gw.initiate(request({ phone: '254711000001' }));
    expect(res.status).toBe('pending');
    const [cb] = await rx.waitFor(1);
    expect(parse(cb)).toEqual({
      gateway: 'mpesa',
      reference: res.reference,
      status: 'failed',
      failureReason: reason,
      eventId: `${res.reference}:${code}`,
    });
    expect(await statusOf(res.reference)).toEqual({ status: 'failed', failureReason: reason });
  });

  test('an unknown ResultCode fails with Daraja’s ResultDesc', async () => {
    const raw = JSON.stringify({
      Body: {
        stkCallback: {
          MerchantRequestID: 'm',
          CheckoutRequestID: 'ws_CO_1',
          ResultCode: 4321,
          ResultDesc: 'Something unusual happened',
        },
      },
    });
    expect(gw.parseWebhook({ headers: {}, rawBody: raw, url: 'http://x' })).toMatchObject({
      status: 'failed',
      failureReason: 'Something unusual happened',
      eventId: 'ws_CO_1:4321',
    });
  });
});

describe('no callback: the query decides', () => {
  test('timeout then query success (pending, pending, succeeded)', async () => {
    sim.script('254722000001', { outcome: 'timeout', pendingQueries: 2 });
    const res = await gw.initiate(request({ phone: '254722000001' }));
    expect(await statusOf(res.reference)).toEqual({ status: 'pending' });
    expect(await statusOf(res.reference)).toEqual({ status: 'pending' });
    expect(await statusOf(res.reference)).toEqual({ status: 'succeeded' });
    await sleep(150);
    expect(rx.received).toHaveLength(0);
  });

  test('timeout then query failure', async () => {
    sim.script('254722000002', { outcome: 'timeout', pendingQueries: 1, resultCode: 1037 });
    const res = await gw.initiate(request({ phone: '254722000002' }));
    expect(await statusOf(res.reference)).toEqual({ status: 'pending' });
    expect(await statusOf(res.reference)).toEqual({ status: 'failed', failureReason: 'phone unreachable' });
  });

  test('"The transaction is being processed" (HTTP 500, 500.001.1001) is pending, then the final answer', async () => {
    sim.script('254722000003', { outcome: 'success', pendingQueries: 3, callbackDelayMs: 10 });
    const res = await gw.initiate(request({ phone: '254722000003' }));
    await rx.waitFor(1);
    for (let i = 0; i < 3; i++) expect(await statusOf(res.reference)).toEqual({ status: 'pending' });
    expect(await statusOf(res.reference)).toEqual({ status: 'succeeded' });
  });

  test('a late callback still arrives after the queries went quiet', async () => {
    sim.script('254722000004', { outcome: 'timeout', pendingQueries: 5, lateCallbackMs: 200 });
    const res = await gw.initiate(request({ phone: '254722000004' }));
    expect(await statusOf(res.reference)).toEqual({ status: 'pending' });
    expect(rx.received).toHaveLength(0);
    const [cb] = await rx.waitFor(1, 3000);
    expect(parse(cb)).toMatchObject({ reference: res.reference, status: 'succeeded', amountPaid: 15_000 });
  });

  test('cancel() cannot withdraw a prompt: pending stays pending, a paid push reports succeeded', async () => {
    sim.script('254722000005', { outcome: 'timeout', pendingQueries: 1 });
    const waiting = await gw.initiate(request({ phone: '254722000005' }));
    expect(await gw.cancel({ reference: waiting.reference, idempotencyKey: 'k' })).toEqual({ status: 'pending' });
    const paid = await gw.initiate(request());
    await rx.waitFor(1);
    expect(await gw.cancel({ reference: paid.reference, idempotencyKey: 'k' })).toEqual({ status: 'succeeded' });
  });
});

describe('callback delivery quirks', () => {
  test('a duplicate callback carries the same eventId', async () => {
    sim.script('254733000001', { outcome: 'success', duplicateCallback: true });
    const res = await gw.initiate(request({ phone: '254733000001' }));
    const [a, b] = await rx.waitFor(2);
    expect(parse(a)).toEqual(parse(b));
    expect(parse(a).eventId).toBe(`${res.reference}:0`);
  });

  test('a callback that arrives before the initiate response names the same CheckoutRequestID', async () => {
    sim.script('254733000002', { outcome: 'success', callbackBeforeResponse: true });
    const res = await gw.initiate(request({ phone: '254733000002' }));
    expect(rx.received).toHaveLength(1); // already there when initiate returned
    expect(parse(rx.received[0])).toMatchObject({ reference: res.reference, status: 'succeeded' });
  });
});

describe('errors and retries', () => {
  test('5xx on the push is a retryable error, and the next call succeeds', async () => {
    sim.script('254744000001', { outcome: 'success', failInitiate5xx: 2 });
    const req = request({ phone: '254744000001' });
    for (let i = 0; i < 2; i++) {
      const e = await gatewayRejection(gw.initiate(req));
      expect(e.type).toBe('GatewayUnavailable');
      expect(e.nonRetryable).toBe(false);
      expect(e.message).toMatch(/HTTP 500, 500\.003\.02.*System is busy/);
    }
    const res = await gw.initiate(req);
    expect(res.status).toBe('pending');
    expect(sim.pushes.size).toBe(1);
  });

  test('a connection failure is retryable too', async () => {
    await sim.close();
    const e = await gatewayRejection(gw.initiate(request()));
    expect(e.type).toBe('GatewayUnavailable');
    expect(e.nonRetryable).toBe(false);
  });

  test('one OAuth call serves several requests (token cached); a revoked token is replaced once', async () => {
    const res = await gw.initiate(request());
    await Promise.all([statusOf(res.reference), statusOf(res.reference), statusOf(res.reference)]);
    await gw.cancel({ reference: res.reference, idempotencyKey: 'k' });
    expect(oauthCalls()).toBe(1);
    const apiCalls = sim.requests.filter((r) => r.path.startsWith('/mpesa/'));
    expect(new Set(apiCalls.map((r) => r.headers.authorization)).size).toBe(1);

    sim.revokeTokens();
    expect((await statusOf(res.reference)).status).toMatch(/pending|succeeded/);
    expect(oauthCalls()).toBe(2);
  });

  test('wrong consumer credentials → a clear, non-retryable error', async () => {
    gw = createMpesaGateway(config({ consumerSecret: 'not-the-secret' }));
    const e = await gatewayRejection(gw.initiate(request()));
    expect(e.nonRetryable).toBe(true);
    expect(e.type).toBe('GatewayRejected');
    expect(e.message).toMatch(/consumer key\/secret.*HTTP 401/);
    expect(pushBodies()).toHaveLength(0);
  });

  test('a wrong passkey fails the simulator’s password check (400.002.02), non-retryable', async () => {
    gw = createMpesaGateway(config({ passkey: 'wrong-passkey' }));
    const e = await gatewayRejection(gw.initiate(request()));
    expect(e.nonRetryable).toBe(true);
    expect(e.message).toMatch(/HTTP 400, 400\.002\.02.*Invalid Password/);
    expect(sim.pushes.size).toBe(0);
  });

  test('a wrong shortcode is refused as well', async () => {
    gw = createMpesaGateway(config({ shortCode: '600000' }));
    const e = await gatewayRejection(gw.initiate(request()));
    expect(e.message).toMatch(/Invalid BusinessShortCode/);
  });
});

describe('push answers the simulator does not script (a stub Daraja)', () => {
  async function stub(push: SimResponse) {
    const server = await startJsonServer((r) =>
      r.path === '/oauth/v1/generate' ? { status: 200, body: { access_token: 't', expires_in: '3599' } } : push,
    );
    return { server, gw: createMpesaGateway(config({ baseUrl: server.url })) };
  }

  test('ResponseCode ≠ 0 → failed with the ResponseDescription', async () => {
    const { server, gw: g } = await stub({
      status: 200,
      body: {
        MerchantRequestID: 'm',
        CheckoutRequestID: 'ws_CO_9',
        ResponseCode: '1',
        ResponseDescription: 'Merchant is not active',
      },
    });
    try {
      expect(await g.initiate(request())).toEqual({
        status: 'failed',
        reference: 'ws_CO_9',
        failureReason: 'Merchant is not active',
        sandbox: true,
      });
    } finally {
      await server.close();
    }
  });

  test('"Unable to lock subscriber" (another prompt open on the phone) → failed, nothing to retry', async () => {
    const { server, gw: g } = await stub({
      status: 500,
      body: {
        requestId: 'r',
        errorCode: '500.001.1001',
        errorMessage: 'Unable to lock subscriber, a transaction is already in process for the current subscriber',
      },
    });
    try {
      expect(await g.initiate(request())).toMatchObject({
        status: 'failed',
        reference: '',
        failureReason: 'another transaction in progress',
      });
    } finally {
      await server.close();
    }
  });
});

describe('Daraja rules', () => {
  test('Timestamp is Nairobi time (yyyyMMddHHmmss, UTC+3) and Password = base64(shortCode + passkey + Timestamp)', async () => {
    expect(darajaTimestamp(new Date('2024-01-01T22:30:05Z'))).toBe('20240102013005');
    expect(darajaTimestamp(new Date('2024-07-15T09:00:00.999Z'))).toBe('20240715120000');

    const before = Date.now();
    await gw.initiate(request());
    const after = Date.now();
    const { Timestamp, Password } = pushBodies()[0] as { Timestamp: string; Password: string };
    expect(Timestamp).toMatch(/^\d{14}$/);
    const asNairobi = (ms: number) => new Date(ms + 3 * 3600_000).toISOString().replace(/\D/g, '').slice(0, 14);
    expect(Timestamp >= asNairobi(before - 1000) && Timestamp <= asNairobi(after + 1000)).toBe(true);
    expect(Password).toBe(Buffer.from(`${sim.shortCode}${sim.passkey}${Timestamp}`).toString('base64'));
    expect(darajaPassword(sim.shortCode, sim.passkey, Timestamp)).toBe(Password);
  });

  test('the simulator rejects a UTC timestamp (what mpesa-node’s own lipaNaMpesaOnline sends)', async () => {
    const basic = Buffer.from(`${sim.consumerKey}:${sim.consumerSecret}`).toString('base64');
    const { access_token } = (await (
      await fetch(`${sim.url}/oauth/v1/generate?grant_type=client_credentials`, {
        headers: { authorization: `Basic ${basic}` },
      })
    ).json()) as {
      access_token: string;
    };
    const utc = new Date()
      .toISOString()
      .replace(/[^0-9]/g, '')
      .slice(0, -3);
    const res = await fetch(`${sim.url}/mpesa/stkpush/v1/processrequest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...pushBodyFor(utc), Password: darajaPassword(sim.shortCode, sim.passkey, utc) }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      errorCode: '400.002.02',
      errorMessage: 'Bad Request - Invalid Timestamp',
    });
  });

  test('amounts: whole shillings only, KES only, refused before anything is sent', async () => {
    expect(await gw.initiate(request({ total: 15_050 }))).toEqual({
      status: 'failed',
      reference: '',
      failureReason: 'M-Pesa takes whole shillings only: KES 150.50 is not a whole amount',
      sandbox: true,
    });
    expect(await gw.initiate(request({ currency: 'USD' }))).toMatchObject({
      status: 'failed',
      failureReason: 'M-Pesa charges KES only, not USD',
    });
    expect(sim.requests).toHaveLength(0);
  });

  test('phones: 2547…/2541… as is, 07…/+254… normalized, anything else refused', async () => {
    expect(darajaPhone('0712345678')).toBe('254712345678');
    expect(darajaPhone('+254 712 345 678')).toBe('254712345678');
    expect(darajaPhone('254110000000')).toBe('254110000000');
    expect(darajaPhone('255712345678')).toBeUndefined();
    expect(darajaPhone('2547123')).toBeUndefined();
    await gw.initiate(request({ phone: '0712345678' }));
    expect(pushBodies()[0]).toMatchObject({ PartyA: '254712345678', PhoneNumber: '254712345678' });
    expect(await gw.initiate(request({ phone: '12345' }))).toMatchObject({
      status: 'failed',
      failureReason: expect.stringMatching(/invalid M-Pesa phone number 12345/),
    });
  });

  test('AccountReference ≤ 12 and TransactionDesc ≤ 13 characters, also without an order number', async () => {
    await gw.initiate(request({ orderNumber: null, description: 'A rather long description' }));
    const b = pushBodies()[0] as { AccountReference: string; TransactionDesc: string };
    expect(b.AccountReference).toMatch(/^[A-Z0-9]{1,12}$/);
    expect(b.TransactionDesc).toBe('A rather long');
  });
});

describe('refunds (TransactionReversal)', () => {
  test('a receipt is reversed: pending with the ConversationID; the same reversal again is idempotent at the simulator', async () => {
    const res = await gw.initiate(request());
    const receipt = parse((await rx.waitFor(1))[0]).receipt!;
    const r1 = await gw.refund({
      reference: receipt,
      idempotencyKey: 'refund-r1',
      amount: 15_000,
      currency: 'KES',
      reason: 'customer returned the goods',
    });
    expect(r1.status).toBe('pending');
    expect(r1.reference).toMatch(/^AG_/);
    const body = sim.requests.find((r) => r.path === '/mpesa/reversal/v1/request')!.body as Record<string, unknown>;
    expect(body).toMatchObject({
      Initiator: 'tillflow-api',
      CommandID: 'TransactionReversal',
      TransactionID: receipt,
      Amount: 150,
      ReceiverParty: sim.shortCode,
      ResultURL: `${rx.url}/mpesa/reversal-result`,
      Remarks: 'customer returned the goods',
      Occasion: 'refund-r1',
    });
    // The initiator password went out encrypted with the (sandbox) certificate, never in clear.
    expect(typeof body.SecurityCredential).toBe('string');
    expect(body.SecurityCredential).not.toContain('Safaricom999');
    expect(Buffer.from(body.SecurityCredential as string, 'base64')).toHaveLength(256);

    const r2 = await gw.refund({
      reference: receipt,
      idempotencyKey: 'refund-r1',
      amount: 15_000,
      currency: 'KES',
      reason: 'retry',
    });
    expect(r2).toEqual(r1);
    expect(sim.reversals.get(receipt)).toMatchObject({ amount: 150, requests: 2, known: true });
    expect(oauthCalls()).toBe(1);
    void res;
  });

  test('a CheckoutRequestID cannot be reversed; unconfigured reversals say what is missing', async () => {
    const res = await gw.initiate(request());
    expect(
      await gw.refund({ reference: res.reference, idempotencyKey: 'r', amount: 15_000, currency: 'KES', reason: 'x' }),
    ).toMatchObject({
      status: 'failed',
      failureReason: expect.stringMatching(/receipt number.*not the STK CheckoutRequestID/),
    });
    const bare = createMpesaGateway(
      config({ initiatorName: undefined, initiatorPassword: undefined, resultUrl: undefined }),
    );
    expect(
      await bare.refund({ reference: 'QKA1B2C3D4', idempotencyKey: 'r', amount: 15_000, currency: 'KES', reason: 'x' }),
    ).toMatchObject({
      status: 'failed',
      failureReason: expect.stringMatching(/MPESA_INITIATOR_NAME/),
    });
    expect(sim.reversals.size).toBe(0);
  });
});

describe('parseWebhook', () => {
  test('malformed bodies throw a plain Error("malformed callback")', () => {
    for (const rawBody of [
      'not json',
      '{}',
      '{"Body":{}}',
      '{"Body":{"stkCallback":{"ResultCode":0}}}',
      '{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1"}}}',
      'null',
    ]) {
      expect(() => gw.parseWebhook({ headers: {}, rawBody, url: 'http://x' })).toThrow(new Error('malformed callback'));
    }
  });
});

describe('mpesaConfigFromEnv', () => {
  const full = {
    MPESA_BASE_URL: 'https://api.safaricom.co.ke/',
    MPESA_CONSUMER_KEY: 'k',
    MPESA_CONSUMER_SECRET: 's',
    MPESA_SHORTCODE: '174379',
    MPESA_PASSKEY: 'p',
  };
  test('none set → undefined; some set → which are missing; all set → a config', () => {
    expect(mpesaConfigFromEnv({})).toBeUndefined();
    expect(() => mpesaConfigFromEnv({ MPESA_CONSUMER_KEY: 'k' })).toThrow(
      /MPESA_BASE_URL, MPESA_CONSUMER_SECRET, MPESA_SHORTCODE, MPESA_PASSKEY are missing/,
    );
    expect(mpesaConfigFromEnv(full)).toMatchObject({
      baseUrl: 'https://api.safaricom.co.ke',
      shortCode: '174379',
      sandbox: false,
    });
    expect(mpesaConfigFromEnv({ ...full, MPESA_BASE_URL: 'http://127.0.0.1:9999' })?.sandbox).toBe(true);
    expect(() => mpesaConfigFromEnv({ ...full, MPESA_TRANSACTION_TYPE: 'Nope' })).toThrow(/MPESA_TRANSACTION_TYPE/);
  });
});

function pushBodyFor(timestamp: string) {
  return {
    BusinessShortCode: sim.shortCode,
    Timestamp: timestamp,
    TransactionType: 'CustomerPayBillOnline',
    Amount: 1,
    PartyA: '254712345678',
    PartyB: sim.shortCode,
    PhoneNumber: '254712345678',
    CallBackURL: `${rx.url}/cb`,
    AccountReference: 'ORDER1',
    TransactionDesc: 'Order #1',
  };
}
