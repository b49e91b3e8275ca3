/** Ticket data built from an order snapshot (pure): the same receipt on close and on reprint. */
import type { OrderSnapshot } from './order';

export function receiptOf(s: OrderSnapshot, locationName: string, taxInclusive: boolean) {
  return {
    orderId: s.id,
    orderNumber: s.orderNumber ?? 0,
    ...(s.receiptNumber !== undefined ? { receiptNumber: s.receiptNumber } : {}),
    locationName,
    currency: s.currency,
    createdAt: s.createdAt,
    closedAt: s.closedAt ?? undefined,
    lines: s.lines.map((l) => ({
      name: l.name,
      quantity: l.quantity,
      unitPrice: l.unitPrice,
      modifiers: l.modifiers,
      total: l.total,
    })),
    discounts: s.discounts.map((d) => ({ name: d.name, amount: d.amount })),
    totals: s.totals,
    taxInclusive,
    payments: s.payments
      .filter((p) => p.status === 'succeeded' || p.status === 'refunded')
      .map((p) => ({
        method: p.method,
        amount: p.amount,
        tip: p.tip,
        fee: p.fee,
        ...(p.change !== undefined ? { change: p.change } : {}),
      })),
  };
}

export function kitchenTicketOf(
  s: OrderSnapshot,
  lines = s.lines.map((l) => ({
    itemId: l.itemId,
    name: l.name,
    quantity: l.quantity,
    modifiers: l.modifiers.map((m) => m.name),
    note: l.note,
  })),
) {
  return {
    orderId: s.id,
    orderNumber: s.orderNumber ?? 0,
    type: s.type,
    table: s.table,
    customerName: s.customerName,
    createdAt: s.updatedAt,
    lines,
  };
}

export function orderNumberTicketOf(s: OrderSnapshot, locationName: string) {
  return { orderId: s.id, orderNumber: s.orderNumber ?? 0, locationName };
}
