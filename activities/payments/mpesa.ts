/**
 * M-Pesa (Safaricom Daraja, M-Pesa Express / STK push) behind the PaymentGateway interface.
 *
 * Transport: the `mpesa-node` package (Safaricom's Node library) for OAuth, the authorized HTTP
 * client and the TransactionReversal request. What it gets wrong for us is fixed around it,
 * not patched inside it:
 *  - its base URL is hard-coded to sandbox/api.safaricom.co.ke → we set `instance.baseURL`;
 *  - it fetches a new OAuth token before every request → we replace the instance's `oAuth` with a
 *    cached one (reused until 60 s before expires_in; one fetch shared by concurrent callers; a
 *    rejected token is dropped and the call retried once);
 *  - its lipaNaMpesaOnline/lipaNaMpesaQuery build the Timestamp from UTC (`toISOString()`), but
 *    Daraja's Timestamp is Nairobi time → we post the STK push and query bodies ourselves through
 *    the library's authorized client (`instance.request()`), Timestamp from darajaTimestamp();
 *  - its client has a 5 s timeout → raised to cfg.timeoutMs (default 20 s, under the activity's
 *    30 s start-to-close) so a slow but accepted push is not retried into a second prompt.
 *
 * axios decision: mpesa-node@0.1.3 depends on axios ^0.18 (2018; known SSRF/ReDoS/CSRF-token
 * advisories and an old follow-redirects). package.json pins it through npm `overrides`
 * ("mpesa-node": {"axios": "1.21.1"}), the same axios the Square SDK already brings, so there is
 * one current axios in the tree. mpesa-node only uses axios.get(url, {headers}),
 * axios.create({baseURL, timeout, headers}) and instance.post(path, body), whose behaviour and
 * error shape (err.response.{status,data}) are unchanged in 1.x; test/gateway-mpesa.test.ts runs
 * every path (OAuth, push, query, reversal) through it against simulators/daraja.ts.
 *
 * Idempotency: Daraja has no idempotency key, and this adapter is stateless (it remembers no
 * pushes). Retries of initiate are made safe by the payment workflow's activity
 * (activities.ts initiatePayment): it records the CheckoutRequestID in Postgres and never
 * re-initiates once one exists; status(), cancel() and parseWebhook() are read-only. The window
 * that remains is a push Daraja accepted whose answer never reached us (timeout, dropped
 * connection, crash): the adapter is marked `withoutIdempotencyKey` and its failures say whether
 * Daraja may have acted (GatewayFailureDetails.mayHaveActed), so the activity never pushes again
 * after such a failure; the payment then waits for the callback instead.
 *
 * Money: Tillflow uses minor units; Daraja takes whole shillings. A total that is not a whole
 * number of shillings is refused before anything is sent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { DateTime } from 'luxon';
import type {
  CancelRequest,
  CancelResult,
  InitiateRequest,
  GatewayFailureDetails,
  InitiateResult,
  PaymentGateway,
  RawWebhook,
  RefundRequest,
  RefundResult,
  RefundStatusRequest,
  StatusRequest,
  StatusResult,
  WebhookEvent,
} from '../../core/gateway';
import { gatewayFailure, gatewayRejected, isTransientStatus } from './failure';

export interface MpesaConfig {
  /** Daraja's base URL: https://api.safaricom.co.ke, https://sandbox.safaricom.co.ke, or a simulator's http://127.0.0.1:port. */
  baseUrl: string;
  consumerKey: string;
  consumerSecret: string;
  /** BusinessShortCode: the paybill number, or the store number of a till. */
  shortCode: string;
  /** The Lipa na M-Pesa Online passkey. */
  passkey: string;
  transactionType?: 'CustomerPayBillOnline' | 'CustomerBuyGoodsOnline';
  /** True when baseUrl is not Safaricom's production API (reported on every InitiateResult). */
  sandbox: boolean;
  /** PartyB for CustomerBuyGoodsOnline (the till number); defaults to shortCode. */
  tillNumber?: string;
  /** Reversals (refunds): the API initiator's name and password, encrypted with Safaricom's certificate. */
  initiatorName?: string;
  initiatorPassword?: string;
  /** Safaricom's public certificate (PEM); defaults to mpesa-node's sandbox certificate when sandbox. */
  certPath?: string;
  /** Where Daraja posts reversal results (ResultURL and QueueTimeOutURL). */
  resultUrl?: string;
  /** Per-request timeout; default 20 s. Retries are left to Temporal. */
  timeoutMs?: number;
}

const PRODUCTION_URL = 'https://api.safaricom.co.ke';

/**
 * Reads MPESA_BASE_URL, MPESA_CONSUMER_KEY, MPESA_CONSUMER_SECRET, MPESA_SHORTCODE, MPESA_PASSKEY
 * (all required once any is set; none set → undefined, M-Pesa is off), and optionally
 * MPESA_TRANSACTION_TYPE, MPESA_TILL_NUMBER, MPESA_SANDBOX (1/true/0/false; default: base URL is
 * not api.safaricom.co.ke), and for refunds MPESA_INITIATOR_NAME, MPESA_INITIATOR_PASSWORD,
 * MPESA_CERT_PATH, MPESA_RESULT_URL.
 */
export function mpesaConfigFromEnv(env: NodeJS.ProcessEnv = process.env): MpesaConfig | undefined {
  const names = [
    'MPESA_BASE_URL',
    'MPESA_CONSUMER_KEY',
    'MPESA_CONSUMER_SECRET',
    'MPESA_SHORTCODE',
    'MPESA_PASSKEY',
  ] as const;
  if (names.every((n) => !env[n])) return undefined;
  const missing = names.filter((n) => !env[n]);
  if (missing.length)
    throw new Error(
      `M-Pesa is partly configured: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing`,
    );
  const baseUrl = env.MPESA_BASE_URL!.replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+/.test(baseUrl))
    throw new Error(`MPESA_BASE_URL must be an http(s) URL, not ${env.MPESA_BASE_URL}`);
  const type = env.MPESA_TRANSACTION_TYPE || undefined;
  if (type && type !== 'CustomerPayBillOnline' && type !== 'CustomerBuyGoodsOnline') {
    throw new Error(`MPESA_TRANSACTION_TYPE must be CustomerPayBillOnline or CustomerBuyGoodsOnline, not ${type}`);
  }
  const sandboxFlag = env.MPESA_SANDBOX?.toLowerCase();
  return {
    baseUrl,
    consumerKey: env.MPESA_CONSUMER_KEY!,
    consumerSecret: env.MPESA_CONSUMER_SECRET!,
    shortCode: env.MPESA_SHORTCODE!,
    passkey: env.MPESA_PASSKEY!,
    transactionType: type as MpesaConfig['transactionType'],
    sandbox: sandboxFlag ? sandboxFlag === '1' || sandboxFlag === 'true' : baseUrl !== PRODUCTION_URL,
    tillNumber: env.MPESA_TILL_NUMBER || undefined,
    initiatorName: env.MPESA_INITIATOR_NAME || undefined,
    initiatorPassword: env.MPESA_INITIATOR_PASSWORD || undefined,
    certPath: env.MPESA_CERT_PATH || undefined,
    resultUrl: env.MPESA_RESULT_URL || undefined,
  };
}

// ---------------------------------------------------------------- Daraja rules

/** Daraja's Timestamp: yyyyMMddHHmmss in Africa/Nairobi time. */
export function darajaTimestamp(at: Date = new Date()): string {
  return DateTime.fromJSDate(at).setZone('Africa/Nairobi').toFormat('yyyyMMddHHmmss');
}

/** Daraja's Password: base64(BusinessShortCode + passkey + Timestamp). */
export function darajaPassword(shortCode: string, passkey: string, timestamp: string): string {
  return Buffer.from(`${shortCode}${passkey}${timestamp}`).toString('base64');
}

/** A Kenyan mobile number as Daraja wants it (2547XXXXXXXX / 2541XXXXXXXX), or undefined. */
export function darajaPhone(phone: string | undefined): string | undefined {
  if (!phone) return undefined;
  let p = phone.replace(/[\s()-]/g, '').replace(/^\+/, '');
  if (/^0[17]\d{8}$/.test(p)) p = `254${p.slice(1)}`;
  return /^254[17]\d{8}$/.test(p) ? p : undefined;
}

/** STK push ResultCodes → what the cashier reads. */
const RESULT_REASONS: Record<string, string> = {
  '1': 'insufficient funds',
  '1032': 'cancelled by customer',
  '1037': 'phone unreachable',
  '2001': 'wrong PIN',
  '1001': 'another transaction in progress',
  '1019': 'expired',
  '1025': 'could not send the prompt to the phone',
  '9999': 'could not send the prompt to the phone',
};

/** A Daraja ResultCode (string in query answers, number in callbacks) → our status. */
export function mpesaResult(resultCode: string | number, resultDesc?: string): StatusResult {
  const code = String(resultCode).trim();
  if (code === '0') return { status: 'succeeded' };
  if (code === '4999') return { status: 'pending' }; // "The transaction is still under processing"
  return {
    status: 'failed',
    failureReason: RESULT_REASONS[code] ?? (resultDesc?.trim() || `M-Pesa result code ${code}`),
  };
}

// ---------------------------------------------------------------- mpesa-node, typed

interface HttpResponse<T = Record<string, unknown>> {
  status: number;
  data: T;
}

interface HttpError extends Error {
  response?: HttpResponse<DarajaError | undefined>;
  code?: string;
}

interface DarajaError {
  requestId?: string;
  errorCode?: string;
  errorMessage?: string;
  resultCode?: string;
  resultDesc?: string;
}

interface AuthorizedClient {
  defaults: { timeout?: number };
  post<T>(path: string, body: unknown): Promise<HttpResponse<T>>;
}

interface MpesaNode {
  baseURL: string;
  configs: Record<string, unknown>;
  oAuth(): Promise<HttpResponse<{ access_token: string; expires_in?: string | number }>>;
  request(baseURL?: string | null): Promise<AuthorizedClient>;
  /** The initiator password encrypted with Safaricom's certificate (the SecurityCredential). */
  security(): string;
  reversal(
    transactionId: string,
    amount: number,
    queueUrl: string,
    resultUrl: string,
    shortCode?: string | null,
    remarks?: string,
    occasion?: string,
    initiator?: string | null,
  ): Promise<HttpResponse<ReversalResponse>>;
}

type MpesaNodeCtor = new (config: Record<string, unknown>) => MpesaNode;

interface StkPushResponse {
  MerchantRequestID?: string;
  CheckoutRequestID?: string;
  ResponseCode?: string;
  ResponseDescription?: string;
  CustomerMessage?: string;
}

interface StkQueryResponse {
  ResponseCode?: string;
  ResponseDescription?: string;
  CheckoutRequestID?: string;
  ResultCode?: string | number;
  ResultDesc?: string;
}

interface ReversalResponse {
  OriginatorConversationID?: string;
  ConversationID?: string;
  ResponseCode?: string;
  ResponseDescription?: string;
}

/** An axios error (an HTTP answer, a timeout or a network failure), as opposed to a local failure. */
const isHttpError = (e: unknown): e is HttpError =>
  e instanceof Error && ((e as { isAxiosError?: boolean }).isAxiosError === true || 'response' in e);

/** The request never left: no connection was opened, so Daraja cannot have acted on it. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

function darajaError(e: unknown): { status?: number; errorCode?: string; message: string } {
  if (!isHttpError(e)) return { message: e instanceof Error ? e.message : String(e) };
  const d = e.response?.data;
  const body = typeof d === 'object' && d !== null ? d : undefined;
  return {
    status: e.response?.status,
    errorCode: body?.errorCode ?? body?.resultCode,
    message: body?.errorMessage ?? body?.resultDesc ?? (typeof d === 'string' && d ? d : e.message),
  };
}

/** An invalid/expired bearer token: Daraja says 404.001.03 (or 401); worth one retry with a fresh token. */
function isTokenRejected(e: unknown): boolean {
  const { status, errorCode } = darajaError(e);
  return status === 401 || errorCode === '404.001.03';
}

/**
 * Network errors, timeouts, 429 and 5xx are retryable (GatewayUnavailable); other 4xx are requests
 * Daraja will keep refusing (GatewayRejected, non-retryable: bad config or a bug, not a decline).
 */
export function toMpesaFailure(e: unknown, op: string): Error {
  if (e instanceof ApplicationFailure) return e;
  const { status, errorCode, message } = darajaError(e);
  const detail = [status ? `HTTP ${status}` : undefined, errorCode].filter(Boolean).join(', ');
  if (isTransientStatus(status)) {
    const details: GatewayFailureDetails = {
      status,
      errorCode,
      mayHaveActed: op === 'STK push' && status === undefined && !NOT_SENT.has(String((e as HttpError).code ?? '')),
    };
    return gatewayFailure({
      message: `M-Pesa ${op} failed${detail ? ` (${detail})` : ''}: ${message}`,
      transient: true,
      details,
      cause: e,
    });
  }
  return gatewayFailure({
    message: `M-Pesa rejected ${op} (${detail}): ${message}`,
    transient: false,
    details: { status, errorCode },
    cause: e,
  });
}

function formatKes(minor: number): string {
  return `KES ${(minor / 100).toLocaleString('en-KE', { minimumFractionDigits: minor % 100 ? 2 : 0, maximumFractionDigits: 2 })}`;
}

function maskPhone(p: string): string {
  return `${p.slice(0, 4)}•••••${p.slice(-3)}`;
}

/** Daraja AccountReference: at most 12 characters. */
function accountReference(req: InitiateRequest): string {
  const ref =
    req.orderNumber !== null ? `ORDER${req.orderNumber}` : req.orderId.replace(/[^A-Za-z0-9]/g, '').toUpperCase();
  return ref.slice(0, 12) || 'TILLFLOW';
}

/** Daraja TransactionDesc: 1–13 characters. */
function transactionDesc(req: InitiateRequest): string {
  return (req.description || 'Payment').replace(/\s+/g, ' ').trim().slice(0, 13) || 'Payment';
}

// ---------------------------------------------------------------- callback

interface StkCallback {
  MerchantRequestID?: string;
  CheckoutRequestID: string;
  ResultCode: number | string;
  ResultDesc?: string;
  CallbackMetadata?: { Item?: Array<{ Name?: string; Value?: unknown }> };
}

/** Parses Daraja's STK callback ({Body:{stkCallback:{…}}}); unsigned, so nothing is verified here. */
export function parseMpesaCallback(rawBody: string): WebhookEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody);
  } catch {
    throw new Error('malformed callback');
  }
  const cb = (parsed as { Body?: { stkCallback?: StkCallback } } | null)?.Body?.stkCallback;
  if (!cb || typeof cb !== 'object' || typeof cb.CheckoutRequestID !== 'string' || !cb.CheckoutRequestID)
    throw new Error('malformed callback');
  if (
    (typeof cb.ResultCode !== 'number' && typeof cb.ResultCode !== 'string') ||
    !/^\d+$/.test(String(cb.ResultCode).trim())
  ) {
    throw new Error('malformed callback');
  }
  const code = String(cb.ResultCode).trim();
  const items = Array.isArray(cb.CallbackMetadata?.Item) ? cb.CallbackMetadata!.Item! : [];
  const item = (name: string) => items.find((i) => i && i.Name === name)?.Value;
  const result = mpesaResult(code, cb.ResultDesc);
  const event: WebhookEvent = {
    gateway: 'mpesa',
    reference: cb.CheckoutRequestID,
    status: result.status,
    eventId: `${cb.CheckoutRequestID}:${code}`,
  };
  if (result.failureReason) event.failureReason = result.failureReason;
  if (result.status === 'succeeded') {
    const amount = Number(item('Amount'));
    if (Number.isFinite(amount)) event.amountPaid = Math.round(amount * 100);
    const receipt = item('MpesaReceiptNumber');
    if (receipt !== undefined && receipt !== null && receipt !== '') event.receipt = String(receipt);
  }
  return event;
}

// ---------------------------------------------------------------- the Daraja client

/** The initiator's refund settings, present only when reversals are configured. */
interface ReversalSettings {
  initiatorName: string;
  initiatorPassword: string;
}

/**
 * mpesa-node with what it gets wrong fixed around it: our base URL, our timeout instead of its 5 s,
 * and a cached OAuth token in front of its oAuth (which request() calls before every call).
 */
class DarajaClient {
  readonly lib: MpesaNode;
  private token: { value: string; refreshAt: number } | undefined;
  private fetching: Promise<string> | undefined;
  private readonly fetchToken: MpesaNode['oAuth'];

  constructor(cfg: MpesaConfig, baseUrl: string, timeoutMs: number, certPath: string | undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const MpesaNodeClass = require('mpesa-node') as MpesaNodeCtor;
    this.lib = new MpesaNodeClass({
      consumerKey: cfg.consumerKey,
      consumerSecret: cfg.consumerSecret,
      environment: cfg.sandbox ? 'sandbox' : 'production',
      shortCode: cfg.shortCode,
      lipaNaMpesaShortCode: cfg.shortCode,
      lipaNaMpesaShortPass: cfg.passkey,
      initiatorName: cfg.initiatorName,
      // mpesa-node calls the initiator password "securityCredential" and encrypts it with certPath.
      securityCredential: cfg.initiatorPassword,
      certPath,
    });
    this.lib.baseURL = baseUrl;
    this.fetchToken = this.lib.oAuth.bind(this.lib);
    this.lib.oAuth = async () => ({ status: 200, data: { access_token: await this.accessToken() } });
    const libraryRequest = this.lib.request.bind(this.lib);
    this.lib.request = async (base?: string | null) => {
      const client = await libraryRequest(base);
      client.defaults.timeout = timeoutMs;
      return client;
    };
  }

  /** The cached token, reused until shortly before it expires; concurrent callers share one fetch. */
  private accessToken(): Promise<string> {
    if (this.token && Date.now() < this.token.refreshAt) return Promise.resolve(this.token.value);
    this.fetching ??= this.fetchNewToken().finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  private async fetchNewToken(): Promise<string> {
    try {
      const res = await this.fetchToken();
      const value = res.data?.access_token;
      if (!value) throw new Error('OAuth answer has no access_token');
      const ttl = Number(res.data.expires_in);
      const ttlMs = (Number.isFinite(ttl) && ttl > 0 ? ttl : 3599) * 1000;
      this.token = { value, refreshAt: Date.now() + Math.max(ttlMs - 60_000, ttlMs / 2) };
      return value;
    } catch (e) {
      const { status, errorCode, message } = darajaError(e);
      if (status !== undefined && status >= 400 && status < 500) {
        throw gatewayRejected(
          `M-Pesa rejected the consumer key/secret (HTTP ${status}${errorCode ? `, ${errorCode}` : ''}): ${message} — check MPESA_CONSUMER_KEY and MPESA_CONSUMER_SECRET`,
        );
      }
      throw toMpesaFailure(e, 'OAuth');
    }
  }

  /** Runs one Daraja call; a rejected token is dropped and the call made once more with a new one. Raw errors escape. */
  async call<T>(fn: () => Promise<HttpResponse<T>>): Promise<HttpResponse<T>> {
    try {
      return await fn();
    } catch (e) {
      if (!isTokenRejected(e)) throw e;
      this.token = undefined;
      return fn();
    }
  }

  post<T>(path: string, body: unknown): Promise<HttpResponse<T>> {
    return this.call<T>(async () => (await this.lib.request()).post<T>(path, body));
  }
}

/** Why an STK push is refused before anything is sent, or undefined when it may go. */
function initiateRefusal(req: InitiateRequest, phone: string | undefined): string | undefined {
  if (req.currency !== 'KES') return `M-Pesa charges KES only, not ${req.currency}`;
  if (!Number.isInteger(req.total) || req.total <= 0) return `invalid amount ${req.total}`;
  if (req.total % 100 !== 0) return `M-Pesa takes whole shillings only: ${formatKes(req.total)} is not a whole amount`;
  if (!phone) return `invalid M-Pesa phone number ${req.phone ?? '(none)'}: expected 2547XXXXXXXX or 2541XXXXXXXX`;
  return undefined;
}

/** Why a reversal is refused before anything is sent (the customer is then refunded by hand), or undefined. */
function refundRefusal(
  req: RefundRequest,
  reversal: ReversalSettings | undefined,
  resultUrl: string | undefined,
  certPath: string | undefined,
): string | undefined {
  if (!reversal || !resultUrl)
    return 'M-Pesa reversals are not configured (MPESA_INITIATOR_NAME, MPESA_INITIATOR_PASSWORD, MPESA_RESULT_URL): refund the customer by hand';
  if (!certPath || !fs.existsSync(certPath))
    return `M-Pesa reversals need Safaricom's certificate (MPESA_CERT_PATH${certPath ? `: ${certPath} not found` : ''})`;
  if (/^ws_CO_/i.test(req.receipt ?? req.reference))
    return `M-Pesa reverses a receipt number (e.g. QKA1B2C3D4), not the STK CheckoutRequestID ${req.reference}: refund the customer by hand`;
  if (req.currency !== 'KES') return `M-Pesa refunds KES only, not ${req.currency}`;
  if (!Number.isInteger(req.amount) || req.amount <= 0 || req.amount % 100 !== 0)
    return `M-Pesa reverses whole shillings only: ${formatKes(req.amount)} is not a whole amount`;
  return undefined;
}

const refundFailed = (failureReason: string): RefundResult => ({ status: 'failed', reference: '', failureReason });

// ---------------------------------------------------------------- the gateway

export class MpesaGateway implements PaymentGateway {
  static readonly identifier = 'mpesa';
  /** MPESA_* settings (validated there), or undefined when M-Pesa is not configured. */
  static readonly configFromEnv = mpesaConfigFromEnv;

  readonly name = MpesaGateway.identifier;
  readonly sandbox: boolean;
  readonly withoutIdempotencyKey = true;
  readonly currencies = ['KES'] as const;
  private readonly client: DarajaClient;
  private readonly transactionType: NonNullable<MpesaConfig['transactionType']>;
  private readonly certPath: string | undefined;
  private readonly reversal: ReversalSettings | undefined;

  constructor(private readonly cfg: MpesaConfig) {
    this.sandbox = cfg.sandbox;
    this.transactionType = cfg.transactionType ?? 'CustomerPayBillOnline';
    this.certPath =
      cfg.certPath ??
      (cfg.sandbox
        ? path.join(path.dirname(require.resolve('mpesa-node/package.json')), 'keys', 'sandbox-cert.cer')
        : undefined);
    this.reversal =
      cfg.initiatorName && cfg.initiatorPassword
        ? { initiatorName: cfg.initiatorName, initiatorPassword: cfg.initiatorPassword }
        : undefined;
    this.client = new DarajaClient(cfg, cfg.baseUrl.replace(/\/+$/, ''), cfg.timeoutMs ?? 20_000, this.certPath);
  }

  async initiate(req: InitiateRequest): Promise<InitiateResult> {
    const phone = darajaPhone(req.phone);
    const refusal = initiateRefusal(req, phone);
    if (refusal) return this.failed('', refusal);
    if (!req.callbackUrl) throw gatewayRejected('M-Pesa needs a callback URL (PUBLIC_BASE_URL)');
    let res: HttpResponse<StkPushResponse>;
    try {
      res = await this.push(req, phone!, req.callbackUrl);
    } catch (e) {
      const { errorCode, message } = darajaError(e);
      // Daraja refused this push because another prompt is open on the phone: nothing was sent.
      if (errorCode === '500.001.1001' && /lock subscriber|already in process/i.test(message))
        return this.failed('', 'another transaction in progress');
      throw toMpesaFailure(e, 'STK push');
    }
    return this.pushResult(res.data ?? {}, req, phone!);
  }

  status(req: StatusRequest): Promise<StatusResult> {
    return this.query(req.reference);
  }

  /** Daraja cannot withdraw an STK prompt: report where it stands (a late success is refunded by the workflow). */
  async cancel(req: CancelRequest): Promise<CancelResult> {
    const s = await this.query(req.reference);
    return { status: s.status };
  }

  /**
   * TransactionReversal; the result comes later to resultUrl, so a request Daraja accepts is
   * 'pending' with the ConversationID as reference. It reverses an M-Pesa receipt number
   * (e.g. QKA1B2C3D4), not a CheckoutRequestID.
   */
  async refund(req: RefundRequest): Promise<RefundResult> {
    const resultUrl = req.resultUrl ?? this.cfg.resultUrl;
    const refusal = refundRefusal(req, this.reversal, resultUrl, this.certPath);
    if (refusal) return refundFailed(refusal);
    let res: HttpResponse<ReversalResponse>;
    try {
      res = await this.reverse(req, resultUrl!, this.reversal!);
    } catch (e) {
      // mpesa-node encrypts the initiator password first: a bad certificate is no network error.
      if (!isHttpError(e) && !(e instanceof ApplicationFailure))
        return refundFailed(`M-Pesa reversal could not be prepared: ${(e as Error).message}`);
      const failure = toMpesaFailure(e, 'reversal');
      if (failure instanceof ApplicationFailure && failure.nonRetryable) return refundFailed(failure.message);
      throw failure;
    }
    const d = res.data ?? {};
    if (String(d.ResponseCode ?? '') !== '0')
      return refundFailed(
        d.ResponseDescription || `M-Pesa refused the reversal (ResponseCode ${d.ResponseCode ?? 'missing'})`,
      );
    return {
      status: 'pending',
      reference: d.ConversationID || d.OriginatorConversationID || '',
      statusReference: d.OriginatorConversationID || undefined,
    };
  }

  /**
   * Transaction Status of a reversal whose Result never came, by its OriginatorConversationID
   * (the ConversationID when that is all we have). Daraja answers it, too, only at the ResultURL.
   */
  async requestRefundStatus(req: RefundStatusRequest): Promise<void> {
    if (!this.reversal)
      throw gatewayRejected('M-Pesa Transaction Status needs MPESA_INITIATOR_NAME and MPESA_INITIATOR_PASSWORD');
    let res: HttpResponse<ReversalResponse>;
    try {
      res = await this.client.post<ReversalResponse>('/mpesa/transactionstatus/v1/query', {
        Initiator: this.reversal.initiatorName,
        SecurityCredential: this.client.lib.security(),
        CommandID: 'TransactionStatusQuery',
        TransactionID: '',
        OriginatorConversationID: req.statusReference ?? req.reference,
        PartyA: this.cfg.shortCode,
        IdentifierType: '4', // an organisation's shortcode
        ResultURL: req.resultUrl,
        QueueTimeOutURL: req.resultUrl,
        Remarks: 'Refund status',
        Occasion: 'Refund status',
      });
    } catch (e) {
      throw toMpesaFailure(e, 'Transaction Status');
    }
    const d = res.data ?? {};
    if (String(d.ResponseCode ?? '') !== '0')
      throw gatewayFailure({
        message: `M-Pesa refused the Transaction Status request: ${d.ResponseDescription ?? d.ResponseCode}`,
        transient: true,
      });
  }

  parseWebhook(raw: RawWebhook): WebhookEvent {
    return parseMpesaCallback(raw.rawBody);
  }

  private failed(reference: string, failureReason: string): InitiateResult {
    return { status: 'failed', reference, failureReason, sandbox: this.sandbox };
  }

  private push(req: InitiateRequest, phone: string, callbackUrl: string): Promise<HttpResponse<StkPushResponse>> {
    const { shortCode, passkey, tillNumber } = this.cfg;
    const timestamp = darajaTimestamp();
    return this.client.post<StkPushResponse>('/mpesa/stkpush/v1/processrequest', {
      BusinessShortCode: shortCode,
      Password: darajaPassword(shortCode, passkey, timestamp),
      Timestamp: timestamp,
      TransactionType: this.transactionType,
      Amount: req.total / 100,
      PartyA: phone,
      PartyB: this.transactionType === 'CustomerBuyGoodsOnline' ? (tillNumber ?? shortCode) : shortCode,
      PhoneNumber: phone,
      CallBackURL: callbackUrl,
      AccountReference: accountReference(req),
      TransactionDesc: transactionDesc(req),
    });
  }

  /** Daraja's answer to a push it received: accepted (pending, the customer is prompted) or refused. */
  private pushResult(d: StkPushResponse, req: InitiateRequest, phone: string): InitiateResult {
    if (String(d.ResponseCode ?? '') !== '0' || !d.CheckoutRequestID) {
      return this.failed(
        d.CheckoutRequestID ?? '',
        d.ResponseDescription ||
          d.CustomerMessage ||
          `M-Pesa refused the request (ResponseCode ${d.ResponseCode ?? 'missing'})`,
      );
    }
    return {
      status: 'pending',
      reference: d.CheckoutRequestID,
      action: {
        type: 'confirm_on_phone',
        message: `Enter your M-Pesa PIN on ${maskPhone(phone)} to pay ${formatKes(req.total)}`,
      },
      sandbox: this.sandbox,
    };
  }

  private reverse(
    req: RefundRequest,
    resultUrl: string,
    reversal: ReversalSettings,
  ): Promise<HttpResponse<ReversalResponse>> {
    return this.client.call(() =>
      this.client.lib.reversal(
        req.receipt ?? req.reference,
        req.amount / 100,
        resultUrl,
        resultUrl,
        this.cfg.shortCode,
        (req.reason || 'Refund').slice(0, 100).padEnd(2, '.'),
        req.idempotencyKey.slice(0, 100),
        reversal.initiatorName,
      ),
    );
  }

  private async query(reference: string): Promise<StatusResult> {
    const { shortCode, passkey } = this.cfg;
    const timestamp = darajaTimestamp();
    try {
      const res = await this.client.post<StkQueryResponse>('/mpesa/stkpushquery/v1/query', {
        BusinessShortCode: shortCode,
        Password: darajaPassword(shortCode, passkey, timestamp),
        Timestamp: timestamp,
        CheckoutRequestID: reference,
      });
      const d = res.data ?? {};
      if (d.ResultCode === undefined || d.ResultCode === null || d.ResultCode === '') return { status: 'pending' };
      return mpesaResult(d.ResultCode, d.ResultDesc);
    } catch (e) {
      const { errorCode, message } = darajaError(e);
      // The customer has not answered yet (or Safaricom has not settled it): Daraja says so with an error.
      if (errorCode === '500.001.1001' && /being processed|under processing/i.test(message))
        return { status: 'pending' };
      throw toMpesaFailure(e, 'STK push query');
    }
  }
}

/** The M-Pesa adapter (tests and the launcher build it by this name). */
export function createMpesaGateway(cfg: MpesaConfig): PaymentGateway {
  return new MpesaGateway(cfg);
}
