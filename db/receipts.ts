import type { Knex } from 'knex';
import type { OrderSnapshot } from '../core/order';
import type { ReceiptDocument } from '../core/receipt-document';

/** Statuses that have a receipt (sold orders, refunded or not). */
export const RECEIPT_STATUSES = ['closed', 'partially_refunded', 'refunded'];

/**
 * The receipt of a sold order once its closing transaction ran (persisted), or undefined when
 * the order is not one of `locationId` (or does not exist). `sold` false: it exists but has no
 * receipt (open or cancelled).
 */
export async function loadReceipt(
  knex: Knex,
  orderId: string,
  locationId: string,
): Promise<{ sold: false } | ({ sold: true } & ReceiptDocument) | undefined> {
  const row = await knex('orders as o')
    .join('locations as l', 'l.id', 'o.location_id')
    .leftJoin('staff as s', 's.id', 'o.staff_id')
    .where('o.id', orderId)
    .where('o.location_id', locationId)
    .first(
      'o.status',
      'o.persisted_at',
      'o.snapshot',
      'l.name as location_name',
      'l.timezone',
      'l.tax_inclusive',
      's.name as staff_name',
    );
  if (!row) return undefined;
  if (!row.persisted_at || !RECEIPT_STATUSES.includes(row.status)) return { sold: false };
  const refunds = await knex('refunds as r')
    .leftJoin('payments as p', 'p.id', 'r.payment_id')
    .where('r.order_id', orderId)
    .where('r.status', 'succeeded')
    .orderBy('r.settled_at')
    .select('r.amount', knex.raw('coalesce(r.method, p.method) as method'), 'r.reason', 'r.settled_at');
  return {
    sold: true,
    order: row.snapshot as OrderSnapshot,
    locationName: row.location_name,
    timezone: row.timezone,
    taxInclusive: row.tax_inclusive,
    staffName: row.staff_name ?? null,
    refunds: refunds.map((r: any) => ({
      amount: r.amount,
      method: r.method ?? null,
      reason: r.reason,
      settledAt: new Date(r.settled_at).toISOString(),
    })),
  };
}
