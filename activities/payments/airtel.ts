/**
 * Airtel Money (Airtel Africa Open API, Collection "USSD push") behind the PaymentGateway
 * interface: a small typed client over fetch, no SDK.
 *
 *   POST /auth/oauth2/token                 client_credentials (token cached until shortly before expires_in)
 *   POST /merchant/v1/payments/             ask the customer to approve with their PIN
 *   GET  /standard/v1/payments/{id}         transaction enquiry: TS paid, TF failed, TIP/TA in progress
 *   POST /standard/v1/payments/refund       refund a paid transaction by its airtel_money_id, with our
 *                                           refund transaction id (the refund workflow's id), whose
 *                                           enquiry says where a refund in progress stands
 *
 * Idempotency: the payment's transaction.id is our idempotency key (the payment workflow id), and
 * Airtel de-duplicates on it, so a retried initiate cannot prompt twice; it is also the reference
 * that status() and refund() ask about. Amounts go in major units (KES whole shillings): a total
 * that is not whole is refused before anything is sent.
 *
 * Callbacks: Airtel posts {transaction:{id, message, status_code, airtel_money_id}} to the ONE
 * callback URL registered for the app in Airtel's portal; the collection request carries no
 * callback URL, so InitiateRequest.callbackUrl (and its per-payment token) is not sent anywhere.
 * The callback is unsigned (Airtel's optional callback hash is not enabled), so the workflow
 * confirms it with status().
 */
import { ApplicationFailure } from '@temporalio/common';
import type {
  CancelRequest,
  CancelResult,
  InitiateRequest,
  InitiateResult,
  PaymentGateway,
  RawWebhook,
  RefundRequest,
  RefundResult,
  StatusRequest,
  StatusResult,
  WebhookEvent,
} from '../../core/gateway';
import { gatewayFailure, gatewayRejected, isTransientStatus } from './failure';

export interface AirtelConfig {
  /** https://openapi.airtel.africa (production), https://openapiuat.airtel.africa (staging), or a simulator's http://127.0.0.1:port. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** ISO country of the merchant wallet (X-Country), e.g. KE. */
  country: string;
  /** ISO currency (X-Currency), e.g. KES. */
  currency: string;
  /** True when baseUrl is not Airtel's production API (reported on every InitiateResult). */
  sandbox: boolean;
  /** Per-request timeout; default 20 s. Retries are left to Temporal. */
  timeoutMs?: number;
}

const PRODUCTION_URL = 'https://openapi.airtel.africa';

/**
 * Reads AIRTEL_BASE_URL, AIRTEL_CLIENT_ID, AIRTEL_CLIENT_SECRET (all required once any is set;
 * none set → undefined, Airtel is off), AIRTEL_COUNTRY (default KE), AIRTEL_CURRENCY (default KES),
 * AIRTEL_SANDBOX (1/true/0/false; default: base URL is not openapi.airtel.africa).
 */
export function airtelConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AirtelConfig | undefined {
  const names = ['AIRTEL_BASE_URL', 'AIRTEL_CLIENT_ID', 'AIRTEL_CLIENT_SECRET'] as const;
  if (names.every((n) => !env[n])) return undefined;
  const missing = names.filter((n) => !env[n]);
  if (missing.length)
    throw new Error(
      `Airtel Money is partly configured: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing`,
    );
  const baseUrl = env.AIRTEL_BASE_URL!.replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+/.test(baseUrl))
    throw new Error(`AIRTEL_BASE_URL must be an http(s) URL, not ${env.AIRTEL_BASE_URL}`);
  const country = (env.AIRTEL_COUNTRY || 'KE').toUpperCase();
  const currency = (env.AIRTEL_CURRENCY || 'KES').toUpperCase();
  if (!/^[A-Z]{2}$/.test(country))
    throw new Error(`AIRTEL_COUNTRY must be a two-letter country code, not ${env.AIRTEL_COUNTRY}`);
  if (!/^[A-Z]{3}$/.test(currency))
    throw new Error(`AIRTEL_CURRENCY must be a three-letter currency code, not ${env.AIRTEL_CURRENCY}`);
  const sandboxFlag = env.AIRTEL_SANDBOX?.toLowerCase();
  return {
    baseUrl,
    clientId: env.AIRTEL_CLIENT_ID!,
    clientSecret: env.AIRTEL_CLIENT_SECRET!,
    country,
    currency,
    sandbox: sandboxFlag ? sandboxFlag === '1' || sandboxFlag === 'true' : baseUrl !== PRODUCTION_URL,
  };
}

// ---------------------------------------------------------------- Airtel rules

/** Country calling codes of Airtel Money markets (msisdn goes without it). */
const DIAL_CODES: Record<string, string> = {
  KE: '254',
  UG: '256',
  TZ: '255',
  RW: '250',
  ZM: '260',
  MW: '265',
  NG: '234',
  CD: '243',
  CG: '242',
  GA: '241',
  TD: '235',
  NE: '227',
  MG: '261',
  SC: '248',
  SL: '232',
  GN: '224',
};

/** Currencies without minor units (everything else here has two). */
const ZERO_DECIMAL = new Set(['UGX', 'RWF', 'XAF', 'XOF', 'GNF']);

/** The subscriber msisdn Airtel wants: the national number without country code or leading 0. */
export function airtelMsisdn(phone: string | undefined, country: string): string | undefined {
  if (!phone) return undefined;
  let p = phone.replace(/[\s()-]/g, '').replace(/^\+/, '');
  if (!/^\d+$/.test(p)) return undefined;
  const dial = DIAL_CODES[country];
  if (dial && p.startsWith(dial) && p.length > dial.length + 7) p = p.slice(dial.length);
  else if (p.startsWith('0')) p = p.slice(1);
  if (country === 'KE') return /^[17]\d{8}$/.test(p) ? p : undefined;
  return /^\d{7,10}$/.test(p) ? p : undefined;
}

/** Airtel response codes (status.response_code) → what the cashier reads. */
const RESPONSE_REASONS: Record<string, string> = {
  DP00800001002: 'wrong PIN',
  DP00800001003: 'exceeds the wallet limit',
  DP00800001004: 'invalid amount',
  DP00800001005: 'invalid transaction id',
  DP00800001007: 'insufficient funds',
  DP00800001008: 'refused',
  DP00800001010: 'transaction not permitted',
  DP00800001024: 'timed out',
  DP00800001025: 'transaction not found',
  DP00800001026: 'forbidden',
  DP00800001029: 'expired',
};

/** An enquiry's transaction.status (TS/TF/TIP/TA/…) → our status. */
export function airtelResult(status: string | undefined, message?: string, responseCode?: string): StatusResult {
  const s = (status ?? '').trim().toUpperCase();
  if (s === 'TS') return { status: 'succeeded' };
  if (s === 'TIP' || s === 'TA') return { status: 'pending' };
  const reason =
    (responseCode && RESPONSE_REASONS[responseCode]) || message?.trim() || (s ? `Airtel status ${s}` : 'declined');
  return { status: 'failed', failureReason: reason };
}

// ---------------------------------------------------------------- wire types

interface AirtelStatusBlock {
  code?: string;
  message?: string;
  result_code?: string;
  response_code?: string;
  success?: boolean;
}

interface AirtelEnvelope<T> {
  data?: T;
  status?: AirtelStatusBlock;
  error?: string;
  error_description?: string;
}

interface AirtelHttpError extends Error {
  httpStatus?: number;
  airtel?: AirtelStatusBlock;
}

function httpError(
  op: string,
  httpStatus: number | undefined,
  body: AirtelEnvelope<unknown> | undefined,
  cause?: unknown,
): AirtelHttpError {
  const message =
    body?.status?.message ??
    body?.error_description ??
    body?.error ??
    (cause instanceof Error ? cause.message : 'no answer');
  const e = new Error(message) as AirtelHttpError;
  e.name = `Airtel ${op}`;
  e.httpStatus = httpStatus;
  e.airtel = body?.status;
  return e;
}

/** Network errors, timeouts, 429 and 5xx are retryable; other 4xx are refusals Airtel will repeat (non-retryable). */
export function toAirtelFailure(e: unknown, op: string): Error {
  if (e instanceof ApplicationFailure) return e;
  const he = e as AirtelHttpError;
  const status = he.httpStatus;
  const detail = [status ? `HTTP ${status}` : undefined, he.airtel?.response_code ?? he.airtel?.result_code]
    .filter(Boolean)
    .join(', ');
  if (isTransientStatus(status)) {
    return gatewayFailure({
      message: `Airtel Money ${op} failed${detail ? ` (${detail})` : ''}: ${he.message}`,
      transient: true,
      cause: e,
    });
  }
  return gatewayFailure({
    message: `Airtel Money rejected ${op} (${detail}): ${he.message}`,
    transient: false,
    details: { status, airtel: he.airtel },
    cause: e,
  });
}

function formatMajor(minor: number, currency: string): string {
  const d = ZERO_DECIMAL.has(currency) ? 0 : 2;
  return `${currency} ${(minor / 10 ** d).toFixed(minor % 10 ** d ? d : 0)}`;
}

// ---------------------------------------------------------------- callback

/** Parses Airtel's callback {transaction:{id, message, status_code, airtel_money_id}}. */
export function parseAirtelCallback(rawBody: string): WebhookEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody);
  } catch {
    throw new Error('malformed callback');
  }
  const t = (parsed as { transaction?: Record<string, unknown> } | null)?.transaction;
  if (
    !t ||
    typeof t !== 'object' ||
    typeof t.id !== 'string' ||
    !t.id ||
    typeof t.status_code !== 'string' ||
    !t.status_code
  ) {
    throw new Error('malformed callback');
  }
  const result = airtelResult(t.status_code, typeof t.message === 'string' ? t.message : undefined);
  const event: WebhookEvent = {
    gateway: 'airtel',
    reference: t.id,
    status: result.status,
    eventId: `${t.id}:${t.status_code}`,
  };
  if (result.failureReason) event.failureReason = result.failureReason;
  if (result.status === 'succeeded' && typeof t.airtel_money_id === 'string' && t.airtel_money_id)
    event.receipt = t.airtel_money_id;
  return event;
}

// ---------------------------------------------------------------- the gateway

interface EnquiryTransaction {
  id?: string;
  status?: string;
  message?: string;
  airtel_money_id?: string;
}

type AirtelAnswer<T> = { status: number; body: AirtelEnvelope<T> };

/** Airtel's HTTP API: OAuth token cached (one fetch shared by concurrent callers), JSON in and out. */
class AirtelClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private token: { value: string; refreshAt: number } | undefined;
  private fetching: Promise<string> | undefined;

  constructor(private readonly cfg: AirtelConfig) {
    this.baseUrl = cfg.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = cfg.timeoutMs ?? 20_000;
  }

  /** An authorized call; a rejected token (401) is dropped and the call made once more. HTTP errors are returned, not thrown. */
  async api<T>(op: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<AirtelAnswer<T>> {
    let res = await this.send<T>(op, method, path, body, await this.accessToken());
    if (res.status === 401) {
      this.token = undefined;
      res = await this.send<T>(op, method, path, body, await this.accessToken());
    }
    return res;
  }

  private async send<T>(
    op: string,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    auth: string | null,
  ): Promise<AirtelAnswer<T>> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: {
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(auth
            ? { authorization: `Bearer ${auth}`, 'x-country': this.cfg.country, 'x-currency': this.cfg.currency }
            : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw toAirtelFailure(httpError(op, undefined, undefined, e), op);
    }
    const text = await res.text().catch(() => '');
    let parsed: AirtelEnvelope<T>;
    try {
      parsed = text ? (JSON.parse(text) as AirtelEnvelope<T>) : {};
    } catch {
      parsed = { error: text.slice(0, 200) };
    }
    return { status: res.status, body: parsed };
  }

  private accessToken(): Promise<string> {
    if (this.token && Date.now() < this.token.refreshAt) return Promise.resolve(this.token.value);
    this.fetching ??= this.fetchNewToken().finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  private async fetchNewToken(): Promise<string> {
    const { clientId, clientSecret } = this.cfg;
    const res = await this.send<never>(
      'OAuth',
      'POST',
      '/auth/oauth2/token',
      { client_id: clientId, client_secret: clientSecret, grant_type: 'client_credentials' },
      null,
    );
    const b = res.body as { access_token?: string; expires_in?: string | number } & AirtelEnvelope<never>;
    if (res.status >= 400 && res.status < 500) {
      throw gatewayRejected(
        `Airtel Money rejected the client id/secret (HTTP ${res.status}): ${b.error_description ?? b.status?.message ?? b.error ?? 'invalid client'} — check AIRTEL_CLIENT_ID and AIRTEL_CLIENT_SECRET`,
      );
    }
    if (res.status >= 300 || !b.access_token) throw toAirtelFailure(httpError('OAuth', res.status, b), 'OAuth');
    const ttl = Number(b.expires_in);
    const ttlMs = (Number.isFinite(ttl) && ttl > 0 ? ttl : 180) * 1000;
    this.token = { value: b.access_token, refreshAt: Date.now() + Math.max(ttlMs - 60_000, ttlMs / 2) };
    return b.access_token;
  }
}

/** 2xx → the envelope; anything else → a retryable or non-retryable failure. */
function ok<T>(op: string, res: AirtelAnswer<T>): AirtelEnvelope<T> {
  if (res.status >= 200 && res.status < 300) return res.body;
  throw toAirtelFailure(httpError(op, res.status, res.body), op);
}

const ALREADY_REFUNDED = /already (been )?(refunded|reversed)/i;

type RefundAnswer = AirtelAnswer<{ transaction?: { airtel_money_id?: string; status?: string } }>;

/** Airtel's answer to a refund of moneyId → ours (a refusal is a failed refund; "already refunded" is done). */
function refundAnswer(res: RefundAnswer, moneyId: string, statusReference: string): RefundResult {
  if (res.status >= 400 && res.status < 500 && res.status !== 429) {
    const msg = res.body.status?.message ?? res.body.error_description ?? res.body.error ?? `HTTP ${res.status}`;
    if (ALREADY_REFUNDED.test(msg)) return { status: 'succeeded', reference: moneyId };
    return { status: 'failed', reference: moneyId, failureReason: `Airtel Money refused the refund: ${msg}` };
  }
  const b = ok('refund', res);
  const s = (b.data?.transaction?.status ?? '').toUpperCase();
  const reference = b.data?.transaction?.airtel_money_id || moneyId;
  if (s === 'SUCCESS' || s === 'TS') return { status: 'succeeded', reference };
  // In progress: asked about later by our refund transaction id (see refundStatus).
  if (s === 'TIP' || s === 'TA' || s === 'PENDING') return { status: 'pending', reference, statusReference };
  const msg = b.status?.message ?? '';
  if (ALREADY_REFUNDED.test(msg)) return { status: 'succeeded', reference: moneyId };
  return {
    status: 'failed',
    reference: moneyId,
    failureReason: `Airtel Money refused the refund: ${msg || s || 'unknown answer'}`,
  };
}

export class AirtelGateway implements PaymentGateway {
  static readonly identifier = 'airtel';
  /** AIRTEL_* settings (validated there), or undefined when Airtel Money is not configured. */
  static readonly configFromEnv = airtelConfigFromEnv;

  readonly name = AirtelGateway.identifier;
  readonly sandbox: boolean;
  readonly currencies: readonly string[];
  private readonly client: AirtelClient;
  /** 10 ** the currency's minor digits: Airtel takes major units. */
  private readonly unit: number;

  constructor(private readonly cfg: AirtelConfig) {
    this.sandbox = cfg.sandbox;
    this.currencies = [cfg.currency];
    this.unit = 10 ** (ZERO_DECIMAL.has(cfg.currency) ? 0 : 2);
    this.client = new AirtelClient(cfg);
  }

  async initiate(req: InitiateRequest): Promise<InitiateResult> {
    const msisdn = airtelMsisdn(req.phone, this.cfg.country);
    const refusal = this.initiateRefusal(req, msisdn);
    if (refusal) return { status: 'failed', reference: '', failureReason: refusal, sandbox: this.sandbox };
    const { country, currency } = this.cfg;
    const id = req.idempotencyKey;
    const res = await this.client.api<{ transaction?: { id?: string | boolean; status?: string } }>(
      'payment request',
      'POST',
      '/merchant/v1/payments/',
      {
        reference: (req.description || `Order ${req.orderNumber ?? ''}`).trim().slice(0, 64) || 'Tillflow payment',
        subscriber: { country, currency, msisdn },
        transaction: { amount: req.total / this.unit, country, currency, id },
      },
    );
    return this.requestResult(ok('payment request', res).status, req, msisdn!);
  }

  async status(req: StatusRequest): Promise<StatusResult> {
    return (await this.enquiry(req.reference)).result;
  }

  /** Airtel has no way to withdraw a collection prompt: report where it stands (a late success is refunded by the workflow). */
  async cancel(req: CancelRequest): Promise<CancelResult> {
    return { status: (await this.enquiry(req.reference)).result.status };
  }

  /**
   * Looks the payment up (the refund API wants Airtel's airtel_money_id) and refunds it. Airtel
   * refunds the whole transaction: the API takes no amount, so a partial refund is not possible.
   */
  async refund(req: RefundRequest): Promise<RefundResult> {
    const { result, transaction } = await this.enquiry(req.reference);
    if (result.status !== 'succeeded' || !transaction?.airtel_money_id) {
      return {
        status: 'failed',
        reference: '',
        failureReason: `nothing to refund: Airtel reports the payment ${result.status}${result.failureReason ? ` (${result.failureReason})` : ''}`,
      };
    }
    const moneyId = transaction.airtel_money_id;
    const res: RefundAnswer = await this.client.api('refund', 'POST', '/standard/v1/payments/refund', {
      transaction: { airtel_money_id: moneyId, id: req.idempotencyKey },
    });
    return refundAnswer(res, moneyId, req.idempotencyKey);
  }

  /** Transaction enquiry of a refund in progress, by our refund transaction id. */
  async refundStatus(req: { reference: string }): Promise<RefundResult> {
    const { result } = await this.enquiry(req.reference);
    const status = result.status === 'cancelled' ? 'failed' : result.status;
    return {
      status,
      reference: req.reference,
      ...(result.failureReason ? { failureReason: `Airtel Money refund failed: ${result.failureReason}` } : {}),
    };
  }

  parseWebhook(raw: RawWebhook): WebhookEvent {
    return parseAirtelCallback(raw.rawBody);
  }

  /** Why a collection is refused before anything is sent, or undefined when it may go. */
  private initiateRefusal(req: InitiateRequest, msisdn: string | undefined): string | undefined {
    const { currency } = this.cfg;
    if (req.currency !== currency) return `Airtel Money charges ${currency} here, not ${req.currency}`;
    if (!Number.isInteger(req.total) || req.total <= 0) return `invalid amount ${req.total}`;
    if (req.total % this.unit !== 0)
      return `Airtel Money takes whole amounts only: ${formatMajor(req.total, currency)} is not a whole amount`;
    if (!msisdn) return `invalid Airtel Money phone number ${req.phone ?? '(none)'}`;
    return undefined;
  }

  /** Airtel's answer to a collection it received: the customer is prompted, or it refused. */
  private requestResult(st: AirtelStatusBlock | undefined, req: InitiateRequest, msisdn: string): InitiateResult {
    const id = req.idempotencyKey;
    // Airtel's samples pair code "200" with success:false at times: only a non-2xx code is a refusal.
    if (st && st.success === false && !/^2\d\d$/.test(String(st.code ?? ''))) {
      // The same transaction id again: Airtel already holds this payment, so it is still ours to wait for.
      if (/duplicate|already exists/i.test(st.message ?? ''))
        return { status: 'pending', reference: id, sandbox: this.sandbox };
      return {
        status: 'failed',
        reference: id,
        failureReason:
          (st.response_code && RESPONSE_REASONS[st.response_code]) ||
          st.message ||
          'Airtel Money refused the payment request',
        sandbox: this.sandbox,
      };
    }
    return {
      status: 'pending',
      reference: id,
      action: {
        type: 'confirm_on_phone',
        message: `Approve the Airtel Money request of ${formatMajor(req.total, this.cfg.currency)} with your PIN on ${msisdn.slice(0, 3)}•••${msisdn.slice(-3)}`,
      },
      sandbox: this.sandbox,
    };
  }

  private async enquiry(reference: string): Promise<{ result: StatusResult; transaction?: EnquiryTransaction }> {
    const res = await this.client.api<{ transaction?: EnquiryTransaction }>(
      'status enquiry',
      'GET',
      `/standard/v1/payments/${encodeURIComponent(reference)}`,
    );
    // Not (yet) known to Airtel: keep waiting; the workflow's expiry decides, and a late success is refunded.
    if (res.status === 404 || res.body.status?.response_code === 'DP00800001025')
      return { result: { status: 'pending' } };
    const b = ok('status enquiry', res);
    const t = b.data?.transaction;
    if (!t?.status) return { result: { status: 'pending' } };
    const result = airtelResult(t.status, t.message, b.status?.response_code);
    if (result.status === 'succeeded' && t.airtel_money_id) result.receipt = t.airtel_money_id;
    return { result, transaction: t };
  }
}

/** The Airtel Money adapter (tests and the launcher build it by this name). */
export function createAirtelGateway(cfg: AirtelConfig): PaymentGateway {
  return new AirtelGateway(cfg);
}
