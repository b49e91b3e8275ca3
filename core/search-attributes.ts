/** Custom search attributes (registered by temporal-dev.yml) that let support staff find any order or stock count. */
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import type { OrderSnapshot } from './order';

export const SA = {
  orderNumber: defineSearchAttributeKey('OrderNumber', SearchAttributeType.INT),
  orderStatus: defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD),
  kitchenStatus: defineSearchAttributeKey('KitchenStatus', SearchAttributeType.KEYWORD),
  paymentMethod: defineSearchAttributeKey('PaymentMethod', SearchAttributeType.KEYWORD_LIST),
  paymentStatus: defineSearchAttributeKey('PaymentStatus', SearchAttributeType.KEYWORD),
  locationId: defineSearchAttributeKey('LocationId', SearchAttributeType.KEYWORD),
  staffId: defineSearchAttributeKey('StaffId', SearchAttributeType.KEYWORD),
  orderTotal: defineSearchAttributeKey('OrderTotal', SearchAttributeType.INT),
  /** open, completing, completed, cancelling, cancelled, rejected: support finds open counts with `StockCountStatus = 'open'`. */
  stockCountStatus: defineSearchAttributeKey('StockCountStatus', SearchAttributeType.KEYWORD),
  refundStatus: defineSearchAttributeKey('RefundStatus', SearchAttributeType.KEYWORD),
};

/** An order's search attributes as of a snapshot: at its start (the API) and on its milestones (the workflow). */
export function orderSearchAttributes(s: OrderSnapshot) {
  const methods = [...new Set(s.payments.map((p) => p.method))];
  const lastPayment = s.payments[s.payments.length - 1];
  return [
    { key: SA.orderStatus, value: s.status },
    { key: SA.kitchenStatus, value: s.kitchenStatus },
    { key: SA.orderTotal, value: s.totals.total },
    ...(s.orderNumber !== null ? [{ key: SA.orderNumber, value: s.orderNumber }] : []),
    { key: SA.paymentMethod, value: methods.length ? methods : null },
    { key: SA.paymentStatus, value: lastPayment?.status ?? null },
  ];
}

/**
 * Visibility writes cost the server more than the Update itself: the workflow refreshes them
 * when this changes (number, kitchen, payment, status), not on every cart edit.
 */
export function orderMilestone(s: OrderSnapshot): string {
  const methods = [...new Set(s.payments.map((p) => p.method))];
  return JSON.stringify([s.status, s.kitchenStatus, s.orderNumber, methods, s.payments[s.payments.length - 1]?.status]);
}
