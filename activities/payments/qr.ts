import QRCode from 'qrcode';
import type Stripe from 'stripe';
import {
  createStripeClient,
  fromCheckoutSession,
  parseStripeWebhook,
  refundPaymentIntent,
  stripeRefundStatus,
  stripeCall,
  toStripeFailure,
} from './stripe';
import type {
  StripeConfig,
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
import { gatewayRejected } from './failure';

export interface QrOptions {
  /**
   * Hosted page lifetime when the request carries no expiresAt. Stripe accepts 30 min … 24 h and
   * the value is clamped to that; the payment workflow expires the session itself (cancel) when
   * the customer should not be given that long.
   */
  expiresInSeconds?: number;
  successUrl: string;
  cancelUrl: string;
}

/** Stripe's limits on Checkout Session expires_at, relative to now. */
export const QR_MIN_EXPIRY_SECONDS = 30 * 60;
export const QR_MAX_EXPIRY_SECONDS = 24 * 60 * 60;
/** How long after req.expiresAt a retried session create still meets Stripe's minimum lifetime. */
const QR_RETRY_SLACK_SECONDS = 5 * 60;

function expiresAt(req: InitiateRequest, opts: QrOptions, nowSec: number): number {
  const wanted = req.expiresAt
    ? Math.floor(Date.parse(req.expiresAt) / 1000)
    : nowSec + (opts.expiresInSeconds ?? QR_MIN_EXPIRY_SECONDS);
  if (!Number.isFinite(wanted)) throw gatewayRejected(`expiresAt ${req.expiresAt} is not a date`);
  // A retried create must send the same expires_at (Stripe refuses a key replayed with other parameters), and
  // req.expiresAt is the same on every retry: a lifetime below Stripe's minimum is lengthened from it, not from
  // the clock (the workflow expires the session itself at req.expiresAt).
  if (req.expiresAt && wanted < nowSec + QR_MIN_EXPIRY_SECONDS + 5)
    return wanted + QR_MIN_EXPIRY_SECONDS + QR_RETRY_SLACK_SECONDS;
  // A few seconds of margin: Stripe measures from when it receives the request.
  return Math.min(Math.max(wanted, nowSec + QR_MIN_EXPIRY_SECONDS + 5), nowSec + QR_MAX_EXPIRY_SECONDS - 5);
}

/**
 * The hosted-page URL as a PNG data URL for a customer display: 8 px per module (whole pixels
 * stay crisp when the display scales it; ~360 px for a Checkout URL), 2-module quiet zone.
 */
export function qrImage(url: string): Promise<string> {
  return QRCode.toDataURL(url, { type: 'image/png', errorCorrectionLevel: 'M', margin: 2, scale: 8 });
}

/** Remembers the first expires_at per idempotency key (the newest 1000): a cache for retries in this worker. */
class FirstExpiry extends Map<string, number> {
  override set(k: string, v: number): this {
    super.set(k, v);
    if (this.size > 1000) this.delete(this.keys().next().value!);
    return this;
  }
}

/** A session → what cancel answers: an expired session is our cancel, not a failed payment. */
const cancelResult = (session: Stripe.Checkout.Session): CancelResult => {
  const s = fromCheckoutSession(session);
  return { status: s.status === 'failed' ? 'cancelled' : s.status };
};

/** The session's line item and metadata: what the customer sees on the hosted page and what webhooks carry back. */
function sessionContent(req: InitiateRequest) {
  const metadata: Record<string, string> = { paymentId: req.paymentId, orderId: req.orderId };
  if (req.orderNumber != null) metadata.orderNumber = String(req.orderNumber);
  const name = req.description || (req.orderNumber != null ? `Order ${req.orderNumber}` : 'Order');
  return {
    line_items: [
      {
        quantity: 1,
        price_data: { currency: req.currency.toLowerCase(), unit_amount: req.total, product_data: { name } },
      },
    ],
    metadata,
    client_reference_id: req.paymentId,
    payment_intent_data: { metadata: { ...metadata, channel: 'qr' } },
  };
}

/**
 * QR payments: a Stripe Checkout Session the customer opens by scanning a QR code. Its reference
 * is the session id; its webhooks arrive on /webhooks/stripe (either adapter's parseWebhook reads them).
 */
export class QrGateway implements PaymentGateway {
  static readonly identifier = 'qr';

  readonly name = QrGateway.identifier;
  readonly sandbox: boolean;
  private readonly stripe: Stripe;
  /**
   * expires_at is part of the idempotent create: a retry that recomputed it from the clock would
   * be refused by Stripe (same key, other parameters). req.expiresAt (set by the workflow) is
   * stable across retries and worker restarts; without it the first value is remembered here,
   * which covers retries within this worker only.
   */
  private readonly firstExpiry = new FirstExpiry();

  /** opts is kept by reference: the launcher points the success/cancel URLs at the API once it listens. */
  constructor(
    private readonly stripeCfg: StripeConfig,
    private readonly opts: QrOptions,
  ) {
    this.sandbox = stripeCfg.sandbox;
    this.stripe = createStripeClient(stripeCfg);
  }

  async initiate(req: InitiateRequest): Promise<InitiateResult> {
    const session = await stripeCall('create checkout session', () =>
      this.stripe.checkout.sessions.create(
        {
          mode: 'payment',
          ...sessionContent(req),
          expires_at: this.expiryFor(req),
          success_url: this.opts.successUrl,
          cancel_url: this.opts.cancelUrl,
        },
        { idempotencyKey: req.idempotencyKey },
      ),
    );
    // A replayed create (retried initiate) shows the session as it was: read what it is now.
    const replayed = session.lastResponse?.headers?.['idempotent-replayed'] === 'true';
    const current = replayed ? await this.retrieve(session.id) : session;
    const s = fromCheckoutSession(current);
    if (s.status !== 'pending')
      return { status: s.status, reference: current.id, failureReason: s.failureReason, sandbox: this.sandbox };
    if (!current.url)
      throw toStripeFailure(new Error('Stripe returned a checkout session without a url'), 'create checkout session');
    return {
      status: 'pending',
      reference: current.id,
      action: { type: 'show_qr', url: current.url, image: await qrImage(current.url), message: 'Scan to pay' },
      sandbox: this.sandbox,
    };
  }

  async status(req: StatusRequest): Promise<StatusResult> {
    return fromCheckoutSession(await this.retrieve(req.reference));
  }

  async cancel(req: CancelRequest): Promise<CancelResult> {
    const session = await this.retrieve(req.reference);
    if (fromCheckoutSession(session).status !== 'pending') return cancelResult(session);
    if (session.status === 'open') {
      try {
        // Its own key: req.idempotencyKey is the payment's, already used for the session create.
        const expired = await this.stripe.checkout.sessions.expire(
          req.reference,
          {},
          { idempotencyKey: `${req.idempotencyKey}:expire` },
        );
        return cancelResult(expired);
      } catch (err) {
        // Only open sessions can be expired: the customer finished paying meanwhile.
        if (!(err instanceof Error && (err as { statusCode?: number }).statusCode === 400))
          throw toStripeFailure(err, 'expire checkout session');
      }
    }
    // complete-but-unpaid (a delayed payment method) or just paid: report what it is now.
    return cancelResult(await this.retrieve(req.reference));
  }

  async refund(req: RefundRequest): Promise<RefundResult> {
    const session = await this.retrieve(req.reference);
    const pi = session.payment_intent;
    const piId = typeof pi === 'string' ? pi : pi?.id;
    if (!piId || session.payment_status !== 'paid') {
      return {
        status: 'failed',
        reference: '',
        failureReason: 'The QR payment was never paid, so there is nothing to refund',
      };
    }
    return refundPaymentIntent(this.stripe, piId, req);
  }

  refundStatus(req: { reference: string }): Promise<RefundResult> {
    return stripeRefundStatus(this.stripe, req.reference);
  }

  parseWebhook(raw: RawWebhook): WebhookEvent {
    return parseStripeWebhook(this.stripe, raw, this.stripeCfg.webhookSecret);
  }

  private expiryFor(req: InitiateRequest): number {
    const nowSec = Math.floor(Date.now() / 1000);
    if (req.expiresAt) return expiresAt(req, this.opts, nowSec);
    let v = this.firstExpiry.get(req.idempotencyKey);
    if (v === undefined) {
      v = expiresAt(req, this.opts, nowSec);
      this.firstExpiry.set(req.idempotencyKey, v);
    }
    return v;
  }

  private retrieve(id: string): Promise<Stripe.Checkout.Session> {
    return stripeCall('retrieve checkout session', () => this.stripe.checkout.sessions.retrieve(id));
  }
}

/** The QR (Stripe Checkout) adapter (tests and the launcher build it by this name). */
export function createQrGateway(stripeCfg: StripeConfig, opts: QrOptions): PaymentGateway {
  return new QrGateway(stripeCfg, opts);
}
