import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { SquareClient, SquareEnvironment, SquareError, SquareTimeoutError, type Square } from 'square';
import {
  UnhandledWebhookError,
  WebhookSignatureError,
  type SquareConfig,
  type CancelRequest,
  type CancelResult,
  type InitiateRequest,
  type InitiateResult,
  type PaymentGateway,
  type RawWebhook,
  type RefundRequest,
  type RefundResult,
  type StatusRequest,
  type StatusResult,
  type WebhookEvent,
} from '../../core/gateway';
import { gatewayFailure, gatewayRejected, isTransientStatus, retryAfterMs } from './failure';

export function squareConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SquareConfig {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`${name} is required for Square payments`);
    return v;
  };
  const baseUrl = (env.SQUARE_BASE_URL || SquareEnvironment.Sandbox).replace(/\/+$/, '');
  return {
    baseUrl,
    accessToken: need('SQUARE_ACCESS_TOKEN'),
    locationId: need('SQUARE_LOCATION_ID'),
    webhookSignatureKey: need('SQUARE_WEBHOOK_SIGNATURE_KEY'),
    webhookUrl: need('PUBLIC_BASE_URL').replace(/\/+$/, '') + '/webhooks/square',
    sandbox: baseUrl !== SquareEnvironment.Production,
  };
}

type RefKind = 'checkout' | 'payment';

const CHECKOUT_CANCEL_REASONS: Record<string, string> = {
  BUYER_CANCELED: 'Customer cancelled on the terminal',
  SELLER_CANCELED: 'Cancelled by the seller',
  TIMED_OUT: 'Not paid on the terminal before the deadline',
};

/** Square error codes → what the cashier reads. Unknown codes fall back to Square's own detail. */
const DECLINE_REASONS: Record<string, string> = {
  CARD_DECLINED: 'Card declined',
  GENERIC_DECLINE: 'Card declined',
  INSUFFICIENT_FUNDS: 'Insufficient funds',
  CVV_FAILURE: 'Card security code (CVV) did not match',
  ADDRESS_VERIFICATION_FAILURE: 'Billing address did not match',
  INVALID_EXPIRATION: 'Card expiry date is invalid',
  EXPIRATION_FAILURE: 'Card has expired',
  CARD_EXPIRED: 'Card has expired',
  INVALID_CARD: 'Card is invalid',
  CARD_NOT_SUPPORTED: 'Card is not supported',
  INVALID_PIN: 'Wrong PIN',
  TRANSACTION_LIMIT: 'Card limit exceeded',
  VOICE_FAILURE: 'Card declined (issuer asks for a call)',
  PAN_FAILURE: 'Card number is invalid',
  CARD_DECLINED_VERIFICATION_REQUIRED: 'Card declined: verification required',
  CARD_DECLINED_CALL_ISSUER: 'Card declined: call the card issuer',
  ALLOWABLE_PIN_TRIES_EXCEEDED: 'Too many PIN attempts',
  BAD_EXPIRATION: 'Card expiry date is invalid',
  CHIP_INSERTION_REQUIRED: 'Insert the card (chip required)',
};

function money(amount: number, currency: string): Square.Money {
  return { amount: BigInt(amount), currency: currency.toUpperCase() as Square.Currency };
}

function num(m: { amount?: bigint | number | null } | undefined | null): number | undefined {
  return m?.amount == null ? undefined : Number(m.amount);
}

function squareErrors(err: SquareError): Array<{ category?: string; code?: string; detail?: string }> {
  const body = err.body as { errors?: Array<{ category?: string; code?: string; detail?: string }> } | undefined;
  return body?.errors ?? err.errors ?? [];
}

function describe(err: SquareError): string {
  const first = squareErrors(err)[0];
  return first ? `${first.code ?? 'ERROR'}${first.detail ? `: ${first.detail}` : ''}` : err.message.split('\n')[0];
}

/**
 * Network trouble, timeouts, 5xx and 429 are retryable (the same idempotency key makes the retry
 * safe); any other 4xx is a request Square will keep rejecting, so retrying cannot help.
 */
function toFailure(err: unknown, op: string): Error {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof SquareTimeoutError) {
    return gatewayFailure({ message: `Square ${op} timed out`, transient: true, cause: err });
  }
  if (err instanceof SquareError && err.statusCode === undefined) {
    // No HTTP answer: the SDK reports its own timeout as a SquareError whose message/cause is "timeout".
    const cause = err.cause instanceof Error ? err.cause.message : String(err.cause ?? '');
    const timedOut = /timeout/i.test(err.message) || /timeout|aborted/i.test(cause);
    const text = timedOut ? 'timed out' : `network error: ${err.message.split('\n')[0]}${cause ? ` (${cause})` : ''}`;
    return gatewayFailure({ message: `Square ${op} ${text}`, transient: true, cause: err });
  }
  if (err instanceof SquareError) {
    const status = err.statusCode;
    if (isTransientStatus(status, [408])) {
      return gatewayFailure({
        message: `Square ${op} failed${status ? ` (HTTP ${status})` : ''}: ${describe(err)}`,
        transient: true,
        nextRetryDelay: retryAfterMs(err.rawResponse?.headers?.get?.('retry-after')),
        cause: err,
      });
    }
    return gatewayFailure({
      message: `Square rejected ${op} (HTTP ${status}): ${describe(err)}`,
      transient: false,
      details: { status, errors: squareErrors(err) },
      cause: err,
    });
  }
  return gatewayFailure({
    message: `Square ${op} failed: ${err instanceof Error ? err.message : String(err)}`,
    transient: true,
    cause: err,
  });
}

function declineReason(errors: Array<{ category?: string; code?: string; detail?: string }>): string | undefined {
  const e = errors.find((x) => x.category === 'PAYMENT_METHOD_ERROR');
  if (!e) return undefined;
  return DECLINE_REASONS[e.code ?? ''] ?? e.detail ?? 'Card declined';
}

interface CheckoutLike {
  status?: string | null;
  cancelReason?: string | null;
  cancel_reason?: string | null;
  amountMoney?: { amount?: bigint | number | null };
  amount_money?: { amount?: bigint | number | null };
  tipMoney?: { amount?: bigint | number | null };
  tip_money?: { amount?: bigint | number | null };
  paymentIds?: string[];
  payment_ids?: string[];
}

/** Terminal checkout status → ours. A buyer cancel or a deadline is a failed attempt; a seller cancel is ours. */
function fromCheckout(c: CheckoutLike): StatusResult {
  const paymentIds = c.paymentIds ?? c.payment_ids ?? [];
  switch (c.status) {
    case 'COMPLETED':
      return {
        status: 'succeeded',
        amountPaid: (num(c.amountMoney ?? c.amount_money) ?? 0) + (num(c.tipMoney ?? c.tip_money) ?? 0),
        receipt: paymentIds[0],
      };
    case 'CANCELED': {
      const reason = c.cancelReason ?? c.cancel_reason ?? undefined;
      const text = (reason && CHECKOUT_CANCEL_REASONS[reason]) ?? 'Cancelled on the terminal';
      return reason === 'SELLER_CANCELED' || !reason
        ? { status: 'cancelled', failureReason: text }
        : { status: 'failed', failureReason: text };
    }
    default: // PENDING, IN_PROGRESS, CANCEL_REQUESTED
      return { status: 'pending' };
  }
}

interface PaymentLike {
  id?: string;
  status?: string | null;
  totalMoney?: { amount?: bigint | number | null };
  total_money?: { amount?: bigint | number | null };
  receiptNumber?: string;
  receipt_number?: string;
  cardDetails?: { errors?: Array<{ code?: string; category?: string; detail?: string }> };
  card_details?: { errors?: Array<{ code?: string; category?: string; detail?: string }> };
}

/** Payment status → ours. APPROVED (authorised, not yet captured) is still pending: we always autocomplete. */
function fromPayment(p: PaymentLike): StatusResult {
  switch (p.status) {
    case 'COMPLETED':
      return { status: 'succeeded', amountPaid: num(p.totalMoney ?? p.total_money), receipt: p.id };
    case 'FAILED': {
      const errs = (p.cardDetails ?? p.card_details)?.errors ?? [];
      return { status: 'failed', failureReason: declineReason(errs) ?? 'Payment failed' };
    }
    case 'CANCELED':
      return { status: 'cancelled', failureReason: 'Payment cancelled' };
    default:
      return { status: 'pending' };
  }
}

/** What each reference is (terminal checkout or payment): a cache, not a ledger, so it keeps the newest 5000. */
class RefKinds extends Map<string, RefKind> {
  override set(k: string, v: RefKind): this {
    super.set(k, v);
    if (this.size > 5000) this.delete(this.keys().next().value!);
    return this;
  }
}

type Found = { kind: 'checkout'; checkout: Square.TerminalCheckout } | { kind: 'payment'; payment: Square.Payment };

const statusOf = (found: Found): StatusResult =>
  found.kind === 'checkout' ? fromCheckout(found.checkout) : fromPayment(found.payment);

async function call<T>(op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err, op);
  }
}

async function isNotFound<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SquareError && err.statusCode === 404) return undefined;
    throw err;
  }
}

/** An HTTP answer below 500: Square decided about the request (as opposed to an outage). */
const isAnswered4xx = (err: unknown): err is SquareError =>
  err instanceof SquareError && err.statusCode !== undefined && err.statusCode < 500;

/** A refund Square refuses for good (4xx other than 408/429): a failed refund, not an outage. */
const isRefundRefused = (err: unknown): err is SquareError =>
  isAnswered4xx(err) && err.statusCode! >= 400 && err.statusCode !== 408 && err.statusCode !== 429;

export class SquareGateway implements PaymentGateway {
  static readonly identifier = 'square';
  /** SQUARE_* settings (validated there). */
  static readonly configFromEnv = squareConfigFromEnv;

  readonly name = SquareGateway.identifier;
  readonly sandbox: boolean;
  private readonly client: SquareClient;
  private readonly kinds = new RefKinds();

  /** cfg is kept by reference: the launcher points webhookUrl at the API once it listens. */
  constructor(private readonly cfg: SquareConfig) {
    this.sandbox = cfg.sandbox;
    this.client = new SquareClient({
      token: cfg.accessToken,
      baseUrl: cfg.baseUrl.replace(/\/+$/, ''),
      maxRetries: 0,
      timeoutInSeconds: (cfg.timeoutMs ?? 30_000) / 1000,
    });
  }

  initiate(req: InitiateRequest): Promise<InitiateResult> {
    if (req.deviceId) return this.terminalCheckout(req, req.deviceId);
    if (!req.sourceId) {
      throw gatewayRejected('Square card payments need a deviceId (Terminal) or a sourceId (card nonce)');
    }
    return this.cardPayment(req, req.sourceId);
  }

  async status(req: StatusRequest): Promise<StatusResult> {
    return statusOf(await this.lookup(req.reference));
  }

  async cancel(req: CancelRequest): Promise<CancelResult> {
    if (!req.reference || req.reference === req.idempotencyKey) {
      // We never learnt what Square made of our create (timeout, crash): void it by our key.
      await call('cancel payment by idempotency key', () =>
        this.client.payments.cancelByIdempotencyKey({
          idempotencyKey: squareIdempotencyKey(req.idempotencyKey, 'create'),
        }),
      );
      return { status: 'cancelled' };
    }
    const found = await this.lookup(req.reference);
    if (found.kind === 'checkout') return this.cancelCheckout(req.reference, found.checkout);
    if (found.payment.status === 'APPROVED') {
      await call('cancel payment', () => this.client.payments.cancel({ paymentId: req.reference }));
      return { status: 'cancelled' };
    }
    return { status: fromPayment(found.payment).status };
  }

  async refund(req: RefundRequest): Promise<RefundResult> {
    let paymentId = req.reference;
    if (this.kinds.get(req.reference) !== 'payment') {
      const found = await this.lookup(req.reference);
      if (found.kind === 'checkout') {
        const ids = found.checkout.paymentIds ?? [];
        if (!ids[0])
          return { status: 'failed', reference: '', failureReason: 'The terminal checkout has no payment to refund' };
        paymentId = ids[0];
      }
    }
    try {
      const res = await this.client.refunds.refundPayment({
        idempotencyKey: squareIdempotencyKey(req.idempotencyKey, 'refund'),
        paymentId,
        amountMoney: money(req.amount, req.currency),
        reason: req.reason?.slice(0, 192) || undefined,
      });
      return fromSquareRefund(res.refund);
    } catch (err) {
      if (isRefundRefused(err)) return { status: 'failed', reference: '', failureReason: describe(err) };
      throw toFailure(err, 'refund payment');
    }
  }

  /** Where a refund Square answered PENDING stands now. */
  async refundStatus(req: { reference: string }): Promise<RefundResult> {
    const res = await call('get refund', () => this.client.refunds.get({ refundId: req.reference }));
    return fromSquareRefund(res.refund);
  }

  parseWebhook(raw: RawWebhook): WebhookEvent {
    verifySquareSignature(raw, this.cfg);
    return parseSquareWebhookBody(raw.rawBody);
  }

  private async terminalCheckout(req: InitiateRequest, deviceId: string): Promise<InitiateResult> {
    const res = await call('create terminal checkout', () =>
      this.client.terminal.checkouts.create({
        idempotencyKey: squareIdempotencyKey(req.idempotencyKey, 'create'),
        checkout: {
          amountMoney: money(req.total, req.currency),
          referenceId: req.paymentId,
          note: req.description?.slice(0, 500) || undefined,
          // The tip was chosen on the POS and is inside the total: no second tip prompt on the terminal.
          deviceOptions: { deviceId, tipSettings: { allowTipping: false } },
        },
      }),
    );
    const checkout = res.checkout;
    if (!checkout?.id) throw toFailure(new Error('Square returned no checkout'), 'create terminal checkout');
    this.kinds.set(checkout.id, 'checkout');
    const s = fromCheckout(checkout);
    return {
      status: s.status,
      reference: checkout.id,
      failureReason: s.failureReason,
      action:
        s.status === 'pending'
          ? { type: 'present_card', message: 'Present, insert or tap the card on the Square Terminal' }
          : undefined,
      sandbox: this.sandbox,
    };
  }

  private async cardPayment(req: InitiateRequest, sourceId: string): Promise<InitiateResult> {
    try {
      const res = await this.client.payments.create({
        idempotencyKey: squareIdempotencyKey(req.idempotencyKey, 'create'),
        sourceId,
        amountMoney: money(req.total - req.tip, req.currency),
        tipMoney: req.tip > 0 ? money(req.tip, req.currency) : undefined,
        referenceId: req.paymentId,
        locationId: this.cfg.locationId,
        note: req.description?.slice(0, 500) || undefined,
        autocomplete: true,
      });
      const payment = res.payment;
      if (!payment?.id) throw new Error('Square returned no payment');
      this.kinds.set(payment.id, 'payment');
      const s = fromPayment(payment);
      return { status: s.status, reference: payment.id, failureReason: s.failureReason, sandbox: this.sandbox };
    } catch (err) {
      const declined = this.declined(err, req);
      if (declined) return declined;
      throw toFailure(err, 'create payment');
    }
  }

  /**
   * A decline is an answer, not an outage: Square reports it as an error with a
   * PAYMENT_METHOD_ERROR and (usually) the FAILED payment in the body.
   */
  private declined(err: unknown, req: InitiateRequest): InitiateResult | undefined {
    if (!isAnswered4xx(err)) return undefined;
    const reason = declineReason(squareErrors(err));
    if (!reason) return undefined;
    const failed = (err.body as { payment?: { id?: string } } | undefined)?.payment;
    if (failed?.id) this.kinds.set(failed.id, 'payment');
    return {
      status: 'failed',
      reference: failed?.id ?? req.idempotencyKey,
      failureReason: reason,
      sandbox: this.sandbox,
    };
  }

  private async cancelCheckout(checkoutId: string, checkout: Square.TerminalCheckout): Promise<CancelResult> {
    const before = fromCheckout(checkout);
    if (before.status !== 'pending') return { status: before.status };
    try {
      const res = await this.client.terminal.checkouts.cancel({ checkoutId });
      if (res.checkout) {
        const s = fromCheckout(res.checkout);
        // CANCEL_REQUESTED: the terminal is still deciding; the webhook or a status poll settles it.
        if (s.status !== 'failed') return { status: s.status };
      }
    } catch (err) {
      // Square refuses to cancel a checkout that has just completed: read what it became.
      if (!isAnswered4xx(err)) throw toFailure(err, 'cancel terminal checkout');
    }
    const s = statusOf(await this.lookup(checkoutId));
    return { status: s.status === 'failed' ? 'cancelled' : s.status };
  }

  /** Fetches the checkout or payment behind a reference, learning which one it is when we don't know. */
  private async lookup(reference: string): Promise<Found> {
    if (this.kinds.get(reference) !== 'payment') {
      const res = await call('get terminal checkout', () =>
        isNotFound(() => this.client.terminal.checkouts.get({ checkoutId: reference })),
      );
      if (res?.checkout) {
        this.kinds.set(reference, 'checkout');
        return { kind: 'checkout', checkout: res.checkout };
      }
    }
    const res = await call('get payment', () => isNotFound(() => this.client.payments.get({ paymentId: reference })));
    if (res?.payment) {
      this.kinds.set(reference, 'payment');
      return { kind: 'payment', payment: res.payment };
    }
    throw gatewayRejected(`Square has no terminal checkout or payment ${reference}`);
  }
}

/** The Square adapter (tests and the launcher build it by this name). */
export function createSquareGateway(cfg: SquareConfig): PaymentGateway {
  return new SquareGateway(cfg);
}

/** A verified webhook's body → the event (terminal checkouts and payments; other types are not handled). */
function parseSquareWebhookBody(rawBody: string): WebhookEvent {
  let body: SquareWebhookBody;
  try {
    body = JSON.parse(rawBody) as SquareWebhookBody;
  } catch {
    throw new WebhookSignatureError('Square webhook body is not JSON');
  }
  const eventId = body.event_id;
  if (!eventId) throw new Error('Square webhook has no event_id');
  if (body.type === 'terminal.checkout.updated' || body.type === 'terminal.checkout.created') {
    const checkout = body.data?.object?.checkout;
    if (!checkout) throw new Error('Square terminal.checkout webhook carries no checkout');
    const reference = checkout.id ?? body.data?.id;
    return squareEvent(fromCheckout(checkout), checkout.reference_id ?? undefined, reference, eventId);
  }
  if (body.type === 'payment.updated' || body.type === 'payment.created') {
    const payment = body.data?.object?.payment;
    if (!payment) throw new Error('Square payment webhook carries no payment');
    // A Terminal payment names its checkout; the checkout is what we hold as the reference.
    const reference = payment.terminal_checkout_id ?? payment.id ?? body.data?.id;
    return squareEvent(fromPayment(payment), payment.reference_id ?? undefined, reference, eventId);
  }
  throw new UnhandledWebhookError(`Square webhook type ${body.type} is not handled`);
}

function squareEvent(
  s: StatusResult,
  paymentId: string | undefined,
  reference: string | undefined,
  eventId: string,
): WebhookEvent {
  return {
    gateway: 'square',
    paymentId,
    reference,
    status: s.status,
    amountPaid: s.amountPaid,
    failureReason: s.failureReason,
    receipt: s.receipt,
    eventId,
  };
}

interface SquareWebhookBody {
  merchant_id?: string;
  type?: string;
  event_id?: string;
  created_at?: string;
  data?: {
    type?: string;
    id?: string;
    object?: {
      checkout?: CheckoutLike & { id?: string; reference_id?: string | null };
      payment?: PaymentLike & { reference_id?: string | null; terminal_checkout_id?: string };
    };
  };
}

/**
 * base64(HMAC-SHA256(signature key, notification URL + raw body)), compared in constant time.
 * (The SDK's WebhooksHelper.verifySignature compares with ===, so it is not used.) The URL is the
 * one registered with Square (cfg.webhookUrl): behind a proxy the URL we were reached at differs.
 */
export function verifySquareSignature(
  raw: RawWebhook,
  cfg: Pick<SquareConfig, 'webhookSignatureKey' | 'webhookUrl'>,
): void {
  const header = raw.headers['x-square-hmacsha256-signature'] ?? raw.headers['X-Square-HmacSha256-Signature'];
  if (!header) throw new WebhookSignatureError('missing x-square-hmacsha256-signature header');
  const url = cfg.webhookUrl || raw.url;
  const expected = createHmac('sha256', cfg.webhookSignatureKey)
    .update(url + raw.rawBody, 'utf8')
    .digest();
  const given = Buffer.from(header.trim(), 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new WebhookSignatureError('Square webhook signature does not match');
  }
}

/**
 * Square caps idempotency_key at 45 characters (Payments, Refunds), and our workflow-derived keys
 * are longer (`payment-<uuid>-<n>` is 46). One key per operation, deterministic from the workflow's
 * key: `<op>-` and 32 base64url characters of SHA-256 (192 bits), at most 41 characters.
 */
export function squareIdempotencyKey(key: string, op: 'create' | 'refund' | string): string {
  return `${op.slice(0, 8)}-${createHash('sha256').update(`${op}\n${key}`).digest('base64url').slice(0, 32)}`;
}

/** Signs a body the way Square does (for simulators and tests). */
export function signSquareWebhook(signatureKey: string, notificationUrl: string, rawBody: string): string {
  return createHmac('sha256', signatureKey)
    .update(notificationUrl + rawBody, 'utf8')
    .digest('base64');
}

function fromSquareRefund(refund: { id?: string; status?: string | null } | undefined): RefundResult {
  if (!refund?.id) throw new Error('Square returned no refund');
  const status =
    refund.status === 'COMPLETED'
      ? 'succeeded'
      : refund.status === 'REJECTED' || refund.status === 'FAILED'
        ? 'failed'
        : 'pending';
  return {
    status,
    reference: refund.id,
    failureReason: status === 'failed' ? `Refund ${String(refund.status).toLowerCase()}` : undefined,
  };
}
