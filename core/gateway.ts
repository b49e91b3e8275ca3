/**
 * One payment interface; one adapter per gateway behind it (square, stripe, qr, mpesa, airtel).
 * Adapters are called from activities only. Every call that can move money carries an
 * idempotency key derived from the payment workflow (`payment-<orderId>-<n>`), so an activity
 * retry or a worker crash never charges, cancels or refunds twice.
 * Money is integer minor units.
 */
import type { PaymentAction } from './order';
import type { GatewayKey } from './payment';

export type GatewayStatus = 'pending' | 'succeeded' | 'failed' | 'cancelled';

export interface InitiateRequest {
  paymentId: string;
  orderId: string;
  orderNumber: number | null;
  /** Derived from the payment workflow id; the same on every retry. */
  idempotencyKey: string;
  /** What the customer pays in total: amount + tip + fee. */
  total: number;
  amount: number;
  tip: number;
  fee: number;
  currency: string;
  description: string;
  /** Card: a paired terminal/reader. */
  deviceId?: string;
  /** Card: a payment method/source token from the POS's reader SDK. */
  sourceId?: string;
  /** M-Pesa / Airtel: the customer's phone, international format without '+'. */
  phone?: string;
  /** Where the gateway should call back (M-Pesa/Airtel carry an unguessable token in it). */
  callbackUrl?: string;
  /** QR: hosted page lifetime. */
  expiresAt?: string;
}

export interface InitiateResult {
  status: GatewayStatus;
  /** The gateway's id for this charge (PaymentIntent id, Square payment/checkout id, CheckoutRequestID, …). */
  reference: string;
  action?: PaymentAction;
  failureReason?: string;
  /** True when the adapter talks to a local simulator rather than the real gateway. */
  sandbox: boolean;
}

export interface StatusRequest {
  reference: string;
  idempotencyKey: string;
  total: number;
  currency: string;
}

export interface StatusResult {
  status: GatewayStatus;
  /** Amount the gateway says was paid (checked against the payment before money counts). */
  amountPaid?: number;
  failureReason?: string;
  /** Gateway receipt/transaction id, when paid. */
  receipt?: string;
}

export interface CancelRequest {
  reference: string;
  idempotencyKey: string;
}

export interface CancelResult {
  /** The status after the cancel attempt: 'succeeded' means it was too late — refund it. */
  status: GatewayStatus;
}

export interface RefundRequest {
  reference: string;
  /** e.g. `refund-<refundId>` or `auto-refund-<paymentWorkflowId>`. */
  idempotencyKey: string;
  amount: number;
  currency: string;
  reason: string;
  phone?: string;
  /** The gateway's receipt for the charge, when it differs from `reference` (M-Pesa reverses the receipt number). */
  receipt?: string;
  /** Where the gateway posts the asynchronous result (M-Pesa reversal ResultURL, built per refund). */
  resultUrl?: string;
}

export interface RefundResult {
  status: 'pending' | 'succeeded' | 'failed';
  reference: string;
  failureReason?: string;
  /** The id to ask the refund's status by, when it differs from `reference` (M-Pesa: the reversal's OriginatorConversationID). */
  statusReference?: string;
}

/** Asks a gateway whose answers come asynchronously where a refund stands; the answer goes to resultUrl. */
export interface RefundStatusRequest {
  reference: string;
  statusReference?: string;
  resultUrl: string;
}

/** A verified webhook, reduced to what the payment workflow needs. */
export interface WebhookEvent {
  gateway: GatewayKey;
  /** Which payment: our payment id (from metadata/reference) or the gateway reference. */
  paymentId?: string;
  reference?: string;
  status: GatewayStatus;
  amountPaid?: number;
  failureReason?: string;
  receipt?: string;
  /** The gateway's event id, for de-duplication. */
  eventId: string;
}

export interface RawWebhook {
  headers: Record<string, string | undefined>;
  rawBody: string;
  /** The full URL the gateway posted to (Square signs it). */
  url: string;
}

export class WebhookSignatureError extends Error {}

/** A verified webhook of a type the payment flow does not use: answer 200 and ignore it. */
export class UnhandledWebhookError extends Error {
  override name = 'UnhandledWebhookError';
}

/**
 * What a gateway failure says about the request (in ApplicationFailure details[0]): whether the
 * gateway may have acted on it. No answer after the request went out (timeout, dropped connection)
 * may mean it did; an HTTP answer or a connection never opened means it did not.
 */
export interface GatewayFailureDetails {
  status?: number;
  errorCode?: string;
  mayHaveActed: boolean;
}

export interface PaymentGateway {
  readonly name: GatewayKey;
  readonly sandbox: boolean;
  /** The gateway takes no idempotency key (M-Pesa): a retried initiate must not blindly send again. */
  readonly withoutIdempotencyKey?: boolean;
  /** The only currencies it charges (absent: any); the API refuses other locations' payments with 422 before anything starts. */
  readonly currencies?: readonly string[];
  initiate(req: InitiateRequest): Promise<InitiateResult>;
  status(req: StatusRequest): Promise<StatusResult>;
  cancel(req: CancelRequest): Promise<CancelResult>;
  refund(req: RefundRequest): Promise<RefundResult>;
  /** Where a pending refund stands, by the gateway's refund id (gateways that finish refunds later). */
  refundStatus?(req: { reference: string }): Promise<RefundResult>;
  /** Requests a refund's status to be posted to req.resultUrl (M-Pesa Transaction Status); resolves once the gateway accepted the request. */
  requestRefundStatus?(req: RefundStatusRequest): Promise<void>;
  /** Verifies the signature (throws WebhookSignatureError) and parses the event. Unsigned gateways verify nothing here: their callbacks are confirmed with status(). */
  parseWebhook(raw: RawWebhook): WebhookEvent;
}

/** The configured adapters, by gateway key. */
export type Gateways = Partial<Record<GatewayKey, PaymentGateway>>;

/** How the Stripe adapter reaches Stripe (or the simulator, which hands out one of these). */
export interface StripeConfig {
  secretKey: string;
  webhookSecret: string;
  /** Where the API is: api.stripe.com by default, a simulator's 127.0.0.1 otherwise. */
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
  /** True when host is a local simulator (reported on every InitiateResult). */
  sandbox: boolean;
  /** Per-request timeout; default 30 s. Retries are left to Temporal (the SDK's own are off). */
  timeoutMs?: number;
}

/** How the Square adapter reaches Square (or the simulator, which hands out one of these). */
export interface SquareConfig {
  /** API base URL: Square's production/sandbox host, or a simulator's http://127.0.0.1:port. */
  baseUrl: string;
  accessToken: string;
  locationId: string;
  /** The webhook subscription's signature key. */
  webhookSignatureKey: string;
  /** The notification URL exactly as registered with Square (it is part of what Square signs). */
  webhookUrl: string;
  /** True when baseUrl is a local simulator (reported on every InitiateResult). */
  sandbox: boolean;
  /** Per-request timeout; default 30 s. Retries are left to Temporal (the SDK's own are off). */
  timeoutMs?: number;
}
