/** Real-time events: what the checkout workflow publishes and WebSocket clients receive. */
import type { OrderSnapshot } from './order';

export type OrderEventName =
  | 'order.updated'
  | 'payment.updated'
  | 'refund.updated'
  | 'kitchen.ticket'
  | 'order.ready'
  | 'cart_updated'
  | 'stock.low'
  | 'printer.failed'
  | 'printer.failover'
  | 'item.updated';

export interface OrderEvent {
  event: OrderEventName;
  version: number;
  topics: string[];
  data: unknown;
}

/** Events of one order in version order, with the order as of the newest one (its projection). */
export interface PublishBatch {
  orderId: string;
  locationId: string;
  events: OrderEvent[];
  snapshot: OrderSnapshot;
  /** Where the batch ends in its run's outbox: what a caller that wrote it reports back (see Written). */
  written?: Written;
}

/**
 * A checkout run's events up to the `through`-th it emitted are written. A caller that wrote a
 * batch says so with its next change, and the run stops repeating those events in its answers
 * (issue 10). The count is per run, so a continued run ignores what was said of an earlier one.
 */
export interface Written {
  runId: string;
  through: number;
}

/** What a new version of an order tells its subscribers: the order, and the cart to its terminal's display. */
export function changeEvents(s: OrderSnapshot): OrderEvent[] {
  const updated: OrderEvent = {
    event: 'order.updated',
    version: s.version,
    topics: [topic.order(s.id), topic.orders(s.locationId)],
    data: s,
  };
  if (!s.terminalId) return [updated];
  const cart = {
    order_id: s.id,
    items: s.lines.map((l) => ({
      name: l.name,
      quantity: l.quantity,
      total: l.total,
      modifiers: l.modifiers.map((m) => m.name),
    })),
    total: s.totals.total,
    ...s,
  };
  return [updated, { event: 'cart_updated', version: s.version, topics: [topic.display(s.terminalId)], data: cart }];
}

export const topic = {
  order: (orderId: string) => `order:${orderId}`,
  orders: (locationId: string) => `orders:${locationId}`,
  kitchen: (locationId: string) => `kitchen:${locationId}`,
  display: (terminalId: string) => `display:${terminalId}`,
};

/** Workflow ids support staff can read and search for. */
export const workflowIds = {
  order: (orderId: string) => `order-${orderId}`,
  payment: (orderId: string, seq: number) => `payment-${orderId}-${seq}`,
  print: (orderId: string, kind: string, n: number) => `print-${orderId}-${kind}-${n}`,
  receiptEmail: (orderId: string, emailId: string) => `receipt-email-${orderId}-${emailId}`,
};

export const printingTaskQueue = (locationId: string) => `printing-${locationId}`;

/** The Postgres NOTIFY channel on which every writer announces an order event to every API replica. */
export const EVENTS_CHANNEL = 'tillflow_events';

/** Workflows whose id is a prefix and the order's uuid (see workflowIds; reprints are print workflows too). */
const ORDER_WORKFLOW_ID =
  /^(?:order|payment|print|reprint)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i;

/** The order a workflow belongs to, read from its id, or null for workflows of no order. */
export const orderIdOfWorkflow = (workflowId: string): string | null => ORDER_WORKFLOW_ID.exec(workflowId)?.[1] ?? null;
