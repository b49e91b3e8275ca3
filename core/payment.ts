/** Types the payment workflow, the checkout and the webhook routes share (pure). */
import type { PaymentAction, PaymentMethod } from './order';

export type GatewayKey = 'square' | 'stripe' | 'qr' | 'mpesa' | 'airtel';

/** Which adapter serves a payment: card payments by provider, the others by method. */
export function gatewayOf(method: PaymentMethod, provider: string | null | undefined): GatewayKey | undefined {
  if (method === 'card') return provider === 'square' || provider === 'stripe' ? provider : undefined;
  if (method === 'qr' || method === 'mpesa' || method === 'airtel') return method;
  return undefined;
}

/** A gateway's event is about a payment of that gateway only (absent gateway: recorded before events were tagged). */
export function eventIsFor(e: Pick<GatewayEvent, 'gateway'>, gateway: GatewayKey): boolean {
  return e.gateway === undefined || e.gateway === gateway;
}

/** Gateways whose callbacks carry no signature: an outcome counts only once a status query confirms it. */
export const UNSIGNED_GATEWAYS: GatewayKey[] = ['mpesa', 'airtel'];

/** A gateway's word on a payment, from a verified webhook. */
export interface GatewayEvent {
  eventId: string;
  /** Which gateway sent it (absent in histories recorded before events were tagged). */
  gateway?: GatewayKey;
  status: 'pending' | 'succeeded' | 'failed' | 'cancelled';
  amountPaid?: number;
  failureReason?: string;
  receipt?: string;
  reference?: string;
}

export interface PaymentTiming {
  /** How long to wait for a callback before asking the gateway. */
  callbackWaitMs: number;
  /** Status polling backoff. */
  pollInitialMs: number;
  pollMaxMs: number;
  /** Give up (cancel at the gateway, fail the payment) after this long pending. */
  expireAfterMs: number;
  /** How long a finished payment still listens for a late success to refund. */
  lateWindowMs: number;
}

export const DEFAULT_PAYMENT_TIMING: PaymentTiming = {
  callbackWaitMs: 60_000,
  pollInitialMs: 2_000,
  pollMaxMs: 30_000,
  expireAfterMs: 5 * 60_000,
  lateWindowMs: 24 * 3600_000,
};

export interface PaymentWorkflowInput {
  parentWorkflowId: string;
  gateway: GatewayKey;
  paymentId: string;
  orderId: string;
  orderNumber: number | null;
  locationId: string;
  seq: number;
  method: PaymentMethod;
  provider: string | null;
  amount: number;
  tip: number;
  fee: number;
  currency: string;
  deviceId?: string;
  sourceId?: string;
  phone?: string;
  /** Base URL gateways call back to (PUBLIC_BASE_URL). */
  publicBaseUrl: string;
  timing: PaymentTiming;
}

export interface PaymentReport {
  id: string;
  status: 'pending' | 'succeeded' | 'failed' | 'cancelled';
  reference?: string;
  action?: PaymentAction;
  failureReason?: string;
  sandbox?: boolean;
  /** Money moved after the payment was cancelled: it was refunded automatically. */
  autoRefunded?: boolean;
  settledAt?: string;
}
