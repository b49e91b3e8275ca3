import Stripe from 'stripe';
import { ApplicationFailure } from '@temporalio/common';
import {
  UnhandledWebhookError,
  WebhookSignatureError,
  type StripeConfig,
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
import type { GatewayKey } from '../../core/payment';
import { gatewayFailure, gatewayRejected, isTransientStatus, retryAfterMs } from './failure';

export function stripeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): StripeConfig {
  const secretKey = env.STRIPE_SECRET_KEY;
  const webhookSecret = env.STRIPE_WEBHOOK_SECRET;
  if (!secretKey) throw new Error('STRIPE_SECRET_KEY is required for Stripe payments');
  if (!webhookSecret) throw new Error('STRIPE_WEBHOOK_SECRET is required for Stripe payments');
  const protocol = env.STRIPE_PROTOCOL as StripeConfig['protocol'] | undefined;
  if (protocol && protocol !== 'http' && protocol !== 'https')
    throw new Error(`STRIPE_PROTOCOL must be http or https, not ${protocol}`);
  const port = env.STRIPE_PORT ? Number(env.STRIPE_PORT) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536))
    throw new Error(`STRIPE_PORT=${env.STRIPE_PORT} is not a port`);
  const host = env.STRIPE_HOST || undefined;
  return {
    secretKey,
    webhookSecret,
    host,
    port,
    protocol,
    sandbox: host !== undefined && host !== 'api.stripe.com',
  };
}

export const STRIPE_API_VERSION = '2025-09-30.clover';

export function createStripeClient(cfg: StripeConfig): Stripe {
  return new Stripe(cfg.secretKey, {
    // stripe-mock v0.197.0 (the simulator's validator) bundles exactly this API version's spec,
    // and the simulator runs it with -strict-version-check: bump the SDK and stripe-mock together.
    apiVersion: STRIPE_API_VERSION,
    host: cfg.host,
    port: cfg.port,
    protocol: cfg.protocol,
    maxNetworkRetries: 0,
    timeout: cfg.timeoutMs ?? 30_000,
    telemetry: !cfg.sandbox,
    appInfo: { name: 'tillflow' },
  });
}

/**
 * Connection errors (including our timeout), 5xx, 429 and idempotency-key lock conflicts (409)
 * are retryable: every call carries the same idempotency key, so the retry cannot charge twice.
 * Other 4xx are requests Stripe will keep rejecting.
 */
export function toStripeFailure(err: unknown, op: string): Error {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof Stripe.errors.StripeError) {
    const status = err.statusCode;
    const transient =
      err instanceof Stripe.errors.StripeConnectionError ||
      err instanceof Stripe.errors.StripeAPIError ||
      err instanceof Stripe.errors.StripeRateLimitError ||
      isTransientStatus(status, [409]) ||
      err.code === 'lock_timeout';
    if (transient) {
      return gatewayFailure({
        message: `Stripe ${op} failed${status ? ` (HTTP ${status})` : ''}: ${err.message}`,
        transient,
        nextRetryDelay: retryAfterMs(err.headers?.['retry-after']),
        cause: err,
      });
    }
    return gatewayFailure({
      message: `Stripe rejected ${op} (HTTP ${status}${err.code ? `, ${err.code}` : ''}): ${err.message}`,
      transient,
      details: { status, code: err.code, requestId: err.requestId },
      cause: err,
    });
  }
  return gatewayFailure({
    message: `Stripe ${op} failed: ${err instanceof Error ? err.message : String(err)}`,
    transient: true,
    cause: err,
  });
}

export async function stripeCall<T>(op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toStripeFailure(err, op);
  }
}

function declineText(e: { message?: string; decline_code?: string; code?: string } | null | undefined): string {
  if (!e) return 'Card declined';
  return (
    e.message ||
    (e.decline_code
      ? `Card declined (${e.decline_code.replace(/_/g, ' ')})`
      : e.code
        ? e.code.replace(/_/g, ' ')
        : 'Card declined')
  );
}

/** PaymentIntent → our status. requires_payment_method means "waiting for a card" until an attempt has failed. */
export function fromPaymentIntent(pi: Stripe.PaymentIntent): StatusResult {
  switch (pi.status) {
    case 'succeeded':
      return { status: 'succeeded', amountPaid: pi.amount_received, receipt: latestCharge(pi) ?? pi.id };
    case 'canceled':
      return {
        status: 'cancelled',
        failureReason: pi.cancellation_reason
          ? `Cancelled (${pi.cancellation_reason.replace(/_/g, ' ')})`
          : 'Cancelled',
      };
    case 'requires_payment_method':
      return pi.last_payment_error
        ? { status: 'failed', failureReason: declineText(pi.last_payment_error) }
        : { status: 'pending' };
    default: // requires_confirmation, requires_action, processing, requires_capture
      return { status: 'pending' };
  }
}

function latestCharge(pi: Stripe.PaymentIntent): string | undefined {
  const c = pi.latest_charge;
  return typeof c === 'string' ? c : c?.id;
}

function isUnexpectedState(err: unknown): boolean {
  return (
    err instanceof Stripe.errors.StripeError && err.statusCode === 400 && err.code === 'payment_intent_unexpected_state'
  );
}

/**
 * Verifies Stripe-Signature with the SDK (constant-time, 5-minute replay tolerance) and reduces
 * the event. Checkout Session events are QR payments (gateway 'qr'; reference = session id);
 * PaymentIntent events are card payments unless their metadata says they came from a QR page.
 */
export function parseStripeWebhook(client: Stripe, raw: RawWebhook, webhookSecret: string): WebhookEvent {
  const header = raw.headers['stripe-signature'] ?? raw.headers['Stripe-Signature'];
  if (!header) throw new WebhookSignatureError('missing Stripe-Signature header');
  let event: Stripe.Event;
  try {
    event = client.webhooks.constructEvent(raw.rawBody, header, webhookSecret);
  } catch (err) {
    throw new WebhookSignatureError(
      `Stripe webhook signature rejected: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const base = { eventId: event.id };
  switch (event.type) {
    case 'payment_intent.succeeded':
    case 'payment_intent.payment_failed':
    case 'payment_intent.canceled': {
      const pi = event.data.object;
      const s = fromPaymentIntent(pi);
      // payment_failed with no last_payment_error still means this attempt failed.
      const status = event.type === 'payment_intent.payment_failed' && s.status === 'pending' ? 'failed' : s.status;
      return {
        ...base,
        gateway: (pi.metadata?.channel === 'qr' ? 'qr' : 'stripe') as GatewayKey,
        paymentId: pi.metadata?.paymentId || undefined,
        reference: pi.id,
        status,
        amountPaid: s.amountPaid,
        failureReason: status === 'failed' ? (s.failureReason ?? declineText(pi.last_payment_error)) : s.failureReason,
        receipt: s.receipt,
      };
    }
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded':
    case 'checkout.session.async_payment_failed':
    case 'checkout.session.expired': {
      const session = event.data.object;
      const s = fromCheckoutSession(session);
      return {
        ...base,
        gateway: 'qr',
        paymentId: session.metadata?.paymentId || session.client_reference_id || undefined,
        reference: session.id,
        status: event.type === 'checkout.session.async_payment_failed' ? 'failed' : s.status,
        amountPaid: s.amountPaid,
        failureReason: event.type === 'checkout.session.async_payment_failed' ? 'Payment failed' : s.failureReason,
        receipt: s.receipt,
      };
    }
    default:
      throw new UnhandledWebhookError(`Stripe webhook type ${event.type} is not handled`);
  }
}

/** Checkout Session → our status: paid → succeeded, expired → failed, anything else is still open. */
export function fromCheckoutSession(session: Stripe.Checkout.Session): StatusResult {
  if (session.payment_status === 'paid') {
    const pi = session.payment_intent;
    return {
      status: 'succeeded',
      amountPaid: session.amount_total ?? undefined,
      receipt: (typeof pi === 'string' ? pi : pi?.id) ?? session.id,
    };
  }
  if (session.status === 'expired') return { status: 'failed', failureReason: 'expired' };
  return { status: 'pending' };
}

export async function refundPaymentIntent(
  client: Stripe,
  paymentIntent: string,
  req: RefundRequest,
): Promise<RefundResult> {
  try {
    const refund = await client.refunds.create(
      {
        payment_intent: paymentIntent,
        amount: req.amount,
        reason: 'requested_by_customer',
        metadata: { reason: req.reason.slice(0, 500) },
      },
      { idempotencyKey: req.idempotencyKey },
    );
    return fromStripeRefund(refund);
  } catch (err) {
    if (err instanceof Stripe.errors.StripeInvalidRequestError && err.statusCode === 400) {
      // e.g. charge_already_refunded, amount too large: a definite no, not an outage.
      return { status: 'failed', reference: '', failureReason: err.message };
    }
    throw toStripeFailure(err, 'refund');
  }
}

/** Where a Stripe refund stands (a refund created `pending` finishes later). */
export async function stripeRefundStatus(client: Stripe, refundId: string): Promise<RefundResult> {
  const refund = await client.refunds.retrieve(refundId).catch((err: unknown) => {
    throw toStripeFailure(err, 'retrieve refund');
  });
  return fromStripeRefund(refund);
}

function fromStripeRefund(refund: Stripe.Refund): RefundResult {
  const status =
    refund.status === 'succeeded'
      ? 'succeeded'
      : refund.status === 'failed' || refund.status === 'canceled'
        ? 'failed'
        : 'pending';
  return {
    status,
    reference: refund.id,
    failureReason: status === 'failed' ? (refund.failure_reason ?? `Refund ${refund.status}`) : undefined,
  };
}

/** A PaymentIntent → what initiate answers; the action only while the customer still has to act. */
function initiateResult(pi: Stripe.PaymentIntent, sandbox: boolean, action?: InitiateResult['action']): InitiateResult {
  const s = fromPaymentIntent(pi);
  return {
    status: s.status,
    reference: pi.id,
    failureReason: s.failureReason,
    action: s.status === 'pending' ? action : undefined,
    sandbox,
  };
}

/** What Stripe keeps with the intent; cancel() needs readerId, as CancelRequest has no deviceId. */
function intentMetadata(req: InitiateRequest): Record<string, string> {
  const metadata: Record<string, string> = { paymentId: req.paymentId, orderId: req.orderId };
  if (req.orderNumber != null) metadata.orderNumber = String(req.orderNumber);
  if (req.deviceId) metadata.readerId = req.deviceId;
  return metadata;
}

export class StripeGateway implements PaymentGateway {
  static readonly identifier = 'stripe';
  /** STRIPE_* settings (validated there). */
  static readonly configFromEnv = stripeConfigFromEnv;

  readonly name = StripeGateway.identifier;
  readonly sandbox: boolean;
  private readonly stripe: Stripe;

  constructor(private readonly cfg: StripeConfig) {
    this.sandbox = cfg.sandbox;
    this.stripe = createStripeClient(cfg);
  }

  async initiate(req: InitiateRequest): Promise<InitiateResult> {
    if (!req.deviceId && !req.sourceId) {
      throw gatewayRejected('Stripe card payments need a deviceId (reader) or a sourceId (payment method)');
    }
    const current = await this.createIntent(req);
    if (current.status !== 'requires_payment_method' && current.status !== 'requires_confirmation')
      return initiateResult(current, this.sandbox);
    if (current.last_payment_error) return initiateResult(current, this.sandbox);
    return req.deviceId ? this.processOnReader(req, req.deviceId, current) : this.confirm(req, current);
  }

  async status(req: StatusRequest): Promise<StatusResult> {
    return fromPaymentIntent(await this.retrieve(req.reference));
  }

  async cancel(req: CancelRequest): Promise<CancelResult> {
    const pi = await this.retrieve(req.reference);
    const before = fromPaymentIntent(pi);
    if (before.status === 'succeeded' || before.status === 'cancelled') return { status: before.status };
    const readerId = pi.metadata?.readerId;
    if (readerId) {
      // Take the prompt off the reader first; it may already be idle, which is fine.
      await this.stripe.terminal.readers
        .cancelAction(readerId, {}, { idempotencyKey: `${req.idempotencyKey}:reader` })
        .catch((err: unknown) => {
          if (!(err instanceof Stripe.errors.StripeInvalidRequestError))
            throw toStripeFailure(err, 'cancel reader action');
        });
    }
    try {
      // Its own key: req.idempotencyKey is the payment's, already used for the create (Stripe refuses a key reused with other parameters).
      const cancelled = await this.stripe.paymentIntents.cancel(
        req.reference,
        { cancellation_reason: 'abandoned' },
        { idempotencyKey: `${req.idempotencyKey}:cancel` },
      );
      return { status: fromPaymentIntent(cancelled).status };
    } catch (err) {
      // Too late: the customer paid while we were cancelling. Report it so the caller refunds.
      if (isUnexpectedState(err)) return { status: fromPaymentIntent(await this.retrieve(req.reference)).status };
      throw toStripeFailure(err, 'cancel payment intent');
    }
  }

  refund(req: RefundRequest): Promise<RefundResult> {
    return refundPaymentIntent(this.stripe, req.reference, req);
  }

  refundStatus(req: { reference: string }): Promise<RefundResult> {
    return stripeRefundStatus(this.stripe, req.reference);
  }

  parseWebhook(raw: RawWebhook): WebhookEvent {
    return parseStripeWebhook(this.stripe, raw, this.cfg.webhookSecret);
  }

  /**
   * Creates the intent (idempotently). A retried initiate gets the original create response replayed
   * (Idempotent-Replayed), which says nothing about what happened since: then the current state is read.
   */
  private async createIntent(req: InitiateRequest): Promise<Stripe.PaymentIntent> {
    const created = await stripeCall('create payment intent', () =>
      this.stripe.paymentIntents.create(
        {
          amount: req.total,
          currency: req.currency.toLowerCase(),
          description: req.description?.slice(0, 1000) || undefined,
          metadata: intentMetadata(req),
          payment_method_types: ['card_present'],
          capture_method: 'automatic',
        },
        { idempotencyKey: req.idempotencyKey },
      ),
    );
    const replayed = created.lastResponse?.headers?.['idempotent-replayed'] === 'true';
    return replayed ? this.retrieve(created.id) : created;
  }

  private async processOnReader(
    req: InitiateRequest,
    deviceId: string,
    pi: Stripe.PaymentIntent,
  ): Promise<InitiateResult> {
    await stripeCall('process payment intent on reader', () =>
      this.stripe.terminal.readers.processPaymentIntent(
        deviceId,
        { payment_intent: pi.id },
        { idempotencyKey: `${req.idempotencyKey}:process` },
      ),
    );
    return initiateResult(await this.retrieve(pi.id), this.sandbox, {
      type: 'present_card',
      message: 'Present, insert or tap the card on the reader',
    });
  }

  private async confirm(req: InitiateRequest, pi: Stripe.PaymentIntent): Promise<InitiateResult> {
    try {
      const confirmed = await this.stripe.paymentIntents.confirm(
        pi.id,
        { payment_method: req.sourceId },
        { idempotencyKey: `${req.idempotencyKey}:confirm` },
      );
      return initiateResult(confirmed, this.sandbox, {
        type: 'present_card',
        message: 'Complete the card authentication',
      });
    } catch (err) {
      if (err instanceof Stripe.errors.StripeCardError) {
        return { status: 'failed', reference: pi.id, failureReason: declineText(err), sandbox: this.sandbox };
      }
      throw toStripeFailure(err, 'confirm payment intent');
    }
  }

  private retrieve(reference: string): Promise<Stripe.PaymentIntent> {
    return stripeCall('retrieve payment intent', () => this.stripe.paymentIntents.retrieve(reference));
  }
}

/** The Stripe (card) adapter (tests and the launcher build it by this name). */
export function createStripeGateway(cfg: StripeConfig): PaymentGateway {
  return new StripeGateway(cfg);
}
