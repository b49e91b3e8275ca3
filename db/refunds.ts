import type { RefundObject } from '../core/refund';

/** A refund line as stored in `refunds.lines` (jsonb). */
export interface RefundLineRow {
  lineId: string;
  itemId?: string;
  quantity: number;
  amount: number;
}

/** The refund row as the API returns it. */
export function refundObject(r: Record<string, any>): RefundObject {
  return {
    id: r.id,
    orderId: r.order_id,
    paymentId: r.payment_id,
    method: r.method,
    provider: r.provider ?? null,
    amount: r.amount,
    status: r.status,
    reason: r.reason,
    lines: (r.lines as RefundLineRow[]).map((l) => ({ lineId: l.lineId, quantity: l.quantity, amount: l.amount })),
    restock: r.restock,
    ...(r.failure_reason ? { failureReason: r.failure_reason } : {}),
    ...(r.reference ? { reference: r.reference } : {}),
    staffId: r.staff_id ?? null,
    createdAt: new Date(r.created_at).toISOString(),
    settledAt: r.settled_at ? new Date(r.settled_at).toISOString() : null,
  };
}
