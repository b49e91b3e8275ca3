/**
 * Temporal message definitions shared by workflows and the API (no Node imports).
 * Cart mutations are Updates (validated before they touch history); gateway outcomes are
 * Signals; reads are Queries.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  ApprovalSeen,
  AddLineRequest,
  AppliedDiscount,
  OrderDetailsRequest,
  OrderSnapshot,
  PaymentMethod,
  PublicPayment,
  UpdateLineRequest,
} from './order';
import type { GatewayEvent, PaymentReport } from './payment';
import type { RefundObject } from './refund';
import type { PublishBatch, Written } from './events';
import type { SplitRequest } from './split';

/**
 * Every update carries the caller's location: an order of another location answers "not found"
 * from the validator, before anything is written.
 */
export interface Caller {
  callerLocationId: string;
  /**
   * The caller writes the change's events and projection itself as soon as the Update answers
   * (issue 10): the answer then comes wrapped with the unpublished events (see Published), and
   * the workflow publishes them only as a durable catch-up, once per burst.
   */
  publishes?: boolean;
  /** What this caller already wrote of the run's events (from earlier answers' batches). */
  written?: Written;
  /** The caller reads compact answers (see Compact); callers from before get whole ones. */
  compact?: boolean;
}

/** An Update's answer to a caller that publishes: the answer, and what it has to publish. */
export interface Published<T> {
  published: T;
  batch: PublishBatch;
}

/**
 * A compact answer: the answer is the order as the batch's newest event carries it (a cart
 * change), so neither the answer nor the batch's projection repeats it. Such an answer holds the
 * order once instead of three times, in the Update's history event and on every hop (issue 10).
 */
export interface Compact {
  batch: Omit<PublishBatch, 'snapshot'>;
}

export function isPublished<T>(answer: T | Published<T> | Compact): answer is Published<T> | Compact {
  return typeof answer === 'object' && answer !== null && 'batch' in answer;
}

/** The compact form when the answer is the newest event's order (the same object), else the whole one. */
export function compactAnswer<T>(answer: T, batch: PublishBatch): Published<T> | Compact {
  const { snapshot: _snapshot, ...rest } = batch;
  return newestOrder(batch) === answer ? { batch: rest } : { published: answer, batch };
}

/** A publishing caller's answer and batch, whichever form the answer came in. */
export function openAnswer<T>(answer: Published<T> | Compact): Published<T> {
  if ('published' in answer) return answer;
  const order = newestOrder(answer.batch)!;
  return { published: order as T, batch: { ...answer.batch, snapshot: order } };
}

function newestOrder(batch: Pick<PublishBatch, 'events'>): OrderSnapshot | undefined {
  for (let i = batch.events.length - 1; i >= 0; i--) {
    if (batch.events[i]!.event === 'order.updated') return batch.events[i]!.data as OrderSnapshot;
  }
  return undefined;
}

export const openOrderUpdate = defineUpdate<OrderSnapshot, [Caller]>('openOrder');
export const addLineUpdate = defineUpdate<OrderSnapshot, [AddLineRequest & Caller]>('addLine');
export const updateLineUpdate = defineUpdate<OrderSnapshot, [UpdateLineRequest & Caller]>('updateLine');
export const removeLineUpdate = defineUpdate<OrderSnapshot, [{ lineId: string } & ApprovalSeen & Caller]>('removeLine');
export const addDiscountUpdate = defineUpdate<
  OrderSnapshot,
  [AppliedDiscount & { available: boolean } & ApprovalSeen & Caller]
>('addDiscount');
export const removeDiscountUpdate = defineUpdate<OrderSnapshot, [{ discountId: string } & Caller]>('removeDiscount');
export const setDetailsUpdate = defineUpdate<OrderSnapshot, [OrderDetailsRequest & Caller]>('setDetails');
export const submitUpdate = defineUpdate<OrderSnapshot, [Caller]>('submit');
/**
 * A kitchen bump. From a kitchen screen it carries the screen and the lines it shows (the API
 * decides them from its categories): those lines are ready, the order once all sent lines are.
 */
export interface ReadyRequest extends Caller {
  screenId?: string;
  lineIds?: string[];
}
export const readyUpdate = defineUpdate<OrderSnapshot, [ReadyRequest]>('ready');
export const cancelUpdate = defineUpdate<OrderSnapshot, [{ reason: string } & ApprovalSeen & Caller]>('cancel');

export interface PaymentRequest extends Caller {
  method: PaymentMethod;
  provider?: string | null;
  amount: number;
  tip?: number;
  tendered?: number;
  deviceId?: string;
  sourceId?: string;
  phone?: string;
  /** Loyalty payments: the points (the API sets `amount` to their worth). */
  points?: number;
  /** The terminal taking it (absent: the order's). */
  terminalId?: string;
}
export const addPaymentUpdate = defineUpdate<{ payment: PublicPayment; order: OrderSnapshot }, [PaymentRequest]>(
  'addPayment',
);

/** Sent by a payment child workflow whenever its payment changes. */
export const paymentUpdatedSignal = defineSignal<[PaymentReport]>('paymentUpdated');

/**
 * Sent by a refund workflow whenever its refund changes, while the order's checkout still runs:
 * the checkout is then the order's only version allocator and records the refund itself
 * (idempotent by refund id and status). Carries the refund as the API shows it.
 */
export const refundSettledSignal = defineSignal<[RefundObject]>('refundSettled');

export const cancelPaymentUpdate = defineUpdate<
  { payment: PublicPayment; order: OrderSnapshot },
  [{ paymentId: string } & Caller]
>('cancelPayment');
export interface ResolveRequest {
  paymentId: string;
  outcome: 'succeeded' | 'failed';
  reason: string;
  staffId: string;
}
export const resolvePaymentUpdate = defineUpdate<
  { payment: PublicPayment; order: OrderSnapshot },
  [ResolveRequest & Caller]
>('resolvePayment');

// ---- the payment child workflow ----
/** A verified webhook for this payment. */
export const gatewayEventSignal = defineSignal<[GatewayEvent]>('gatewayEvent');
export const cancelPaymentSignal = defineSignal<[]>('cancel');
export const resolvePaymentSignal = defineSignal<[ResolveRequest]>('resolve');
export const paymentStateQuery = defineQuery<PaymentReport>('paymentState');

export const snapshotQuery = defineQuery<OrderSnapshot>('snapshot');

/** Moves line quantities to a new order (the order's own workflow starts the new one as a child). */
export const splitUpdate = defineUpdate<{ original: OrderSnapshot; newOrderId: string }, [SplitRequest & Caller]>(
  'split',
);
