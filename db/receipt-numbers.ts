import type { Knex } from 'knex';

/**
 * SQL (in an ON CONFLICT update of `orders`) that keeps the order's receipt number in its stored
 * snapshot when a newer snapshot from the workflow (which never knows the number) replaces it.
 */
export const KEEP_RECEIPT_NUMBER =
  "case when orders.receipt_number is null then '{}'::jsonb else jsonb_build_object('receiptNumber', orders.receipt_number) end";

/**
 * Gives a sold order the next receipt number of its location, inside the closing transaction:
 * the location's row lock makes concurrent closes take turns (never the same number twice), and
 * a rolled-back close gives its number back (never a gap). The caller runs it once per order.
 */
export async function assignReceiptNumber(trx: Knex.Transaction, orderId: string, locationId: string): Promise<number> {
  const [loc] = await trx('locations')
    .where('id', locationId)
    .increment('receipt_counter', 1)
    .returning('receipt_counter');
  if (!loc) throw new Error(`location ${locationId} not found`);
  const receiptNumber = loc.receipt_counter as number;
  await trx('orders')
    .where('id', orderId)
    .update({
      receipt_number: receiptNumber,
      snapshot: trx.raw("snapshot || jsonb_build_object('receiptNumber', ?::int)", [receiptNumber]),
    });
  return receiptNumber;
}
