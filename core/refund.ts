/**
 * Refunds: the pure rules the API and the `refund` workflow share (no Node imports).
 * Money is integer minor units.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { GatewayKey, PaymentTiming } from './payment';
import type { PaymentMethod } from './order';

export type RefundStatus = 'pending' | 'succeeded' | 'failed';

export interface RefundLine {
  lineId: string;
  quantity: number;
  /** What this line gives back (its share of net, service charge and exclusive tax). */
  amount: number;
}

/** The refund as the API returns it. */
export interface RefundObject {
  id: string;
  orderId: string;
  paymentId: string;
  method: PaymentMethod;
  provider: string | null;
  amount: number;
  status: RefundStatus;
  reason: string;
  lines: RefundLine[];
  restock: boolean;
  failureReason?: string;
  reference?: string;
  staffId: string | null;
  createdAt: string;
  settledAt: string | null;
}

export interface RefundWorkflowInput {
  refundId: string;
  orderId: string;
  orderNumber: number | null;
  locationId: string;
  paymentId: string;
  method: PaymentMethod;
  /** The adapter the payment came through; absent for cash (recorded at once, drawer out). */
  gateway?: GatewayKey;
  /** The payment's gateway reference and receipt (what the gateway refunds). */
  reference?: string;
  receipt?: string;
  amount: number;
  currency: string;
  reason: string;
  /** Where an asynchronous gateway result for this refund goes (M-Pesa: PUBLIC_BASE_URL + /webhooks/mpesa-result/<token>). */
  resultUrl?: string;
  timing: PaymentTiming;
}

/** Where a refund run stands: `sending` until the gateway (or the cash drawer) has answered once. */
export interface RefundProgress {
  phase: 'sending' | 'waiting' | 'done';
  status: RefundStatus;
  reference?: string;
  failureReason?: string;
}

export const refundWorkflowId = (refundId: string) => `refund-${refundId}`;

/** The gateway's idempotency key for a refund: its workflow id (43 characters, within Square's 45). */
export const refundIdempotencyKey = (refundId: string) => refundWorkflowId(refundId);

/** Answers once the refund has left the `sending` phase: 201 when it settled then, else 202. */
export const refundSentUpdate = defineUpdate<RefundProgress, []>('refundSent');
export const refundProgressQuery = defineQuery<RefundProgress>('refundProgress');
/** The checkout's word that it has published the refund at this status (the refund's change is on the order). */
export const refundRecordedSignal = defineSignal<[{ status: RefundStatus }]>('refundRecorded');
/** A gateway's word on a pending refund (e.g. a verified webhook), de-duplicated by eventId. */
export const refundGatewayEventSignal =
  defineSignal<[{ eventId: string; status: RefundStatus; failureReason?: string }]>('refundGatewayEvent');
/** A gateway's word on a payment's automatic reversal (an M-Pesa result at the payment's reversal ResultURL), de-duplicated by eventId. */
export const reversalResultSignal =
  defineSignal<[{ eventId: string; status: RefundStatus; failureReason?: string }]>('reversalResult');
/** Where a payment's automatic reversal results go: PUBLIC_BASE_URL + this + the payment's reversal token. */
export const MPESA_RESULT_PATH = '/webhooks/mpesa-result/';

export interface PaymentRefundable {
  id: string;
  method: PaymentMethod;
  provider: string | null;
  /** amount + tip + fee: what the payment took. */
  taken: number;
  /** taken − succeeded refunds − pending refunds. */
  refundable: number;
  createdAt: string;
  seq: number;
}

/**
 * The payment a refund of `amount` goes through: `paymentId` if given, else the newest succeeded
 * payment whose refundable amount covers it. Undefined when none can.
 */
export function choosePayment(
  payments: PaymentRefundable[],
  amount: number,
  paymentId?: string,
): PaymentRefundable | undefined {
  const fits = (p: PaymentRefundable) => p.refundable >= amount && p.refundable > 0;
  if (paymentId) return payments.find((p) => p.id === paymentId && fits(p));
  return [...payments].sort((a, b) => b.seq - a.seq || b.createdAt.localeCompare(a.createdAt)).find(fits);
}

/**
 * A gateway rule the refund breaks (checked before anything is sent), or undefined.
 * Airtel refunds whole transactions only; M-Pesa moves whole shillings.
 */
export function gatewayRefundRule(
  p: PaymentRefundable,
  amount: number,
  gateway: GatewayKey | undefined,
): string | undefined {
  if (gateway === 'airtel' && (amount !== p.taken || p.refundable !== p.taken)) {
    return `Airtel Money refunds whole transactions only: refund all ${p.taken} of this payment, in one refund`;
  }
  if (gateway === 'mpesa' && amount % 100 !== 0)
    return 'M-Pesa refunds whole shillings only: the amount must be a multiple of 100';
  return undefined;
}

/** The order's status after refunds: what was taken and what came back. */
export function refundedOrderStatus<S extends string>(
  current: S,
  paid: number,
  refunded: number,
): S | 'partially_refunded' | 'refunded' {
  if (current === 'open' || current === 'cancelled' || refunded <= 0) return current;
  return refunded >= paid ? 'refunded' : 'partially_refunded';
}
