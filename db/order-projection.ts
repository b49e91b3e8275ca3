import type { Knex } from 'knex';
import type { OrderSnapshot } from '../core/order';

/**
 * An order snapshot as its `orders` projection row. The projection has several writers (the
 * publishing activity, the closing transaction, refunds, the API's reservation), so they share
 * this one mapping.
 */
export function projectionRow(s: OrderSnapshot) {
  return {
    id: s.id,
    location_id: s.locationId,
    order_number: s.orderNumber,
    status: s.status,
    kitchen_status: s.kitchenStatus,
    type: s.type,
    table_label: s.table,
    customer_name: s.customerName,
    table_id: s.tableId ?? null,
    customer_id: s.customerId ?? null,
    staff_id: s.staffId,
    terminal_id: s.terminalId,
    currency: s.currency,
    subtotal: s.totals.subtotal,
    discount: s.totals.discount,
    service_charge: s.totals.serviceCharge,
    tax: s.totals.tax,
    card_fee: s.totals.cardFee,
    tip: s.totals.tip,
    total: s.totals.total,
    paid: s.totals.paid,
    refunded: s.totals.refunded,
    version: s.version,
    snapshot: JSON.stringify(s),
    cancel_reason: s.cancelReason,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
    closed_at: s.closedAt,
  };
}

/**
 * Writes the projection row from a snapshot only if the order has none yet. Safe beside the
 * publishing activity: it takes strictly newer versions only, so it overwrites this row with the
 * first change it publishes and never loses one.
 */
export async function ensureProjection(trx: Knex.Transaction, s: OrderSnapshot): Promise<void> {
  await trx('orders').insert(projectionRow(s)).onConflict('id').ignore();
}
