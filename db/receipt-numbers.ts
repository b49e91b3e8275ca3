import type { Knex } from 'knex';
import { prepared } from './prepared';

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
  // One statement: the location's row is every close's hot row, locked from here to the commit.
  const { rows } = await prepared(
    trx.raw(
      `WITH n AS (UPDATE locations SET receipt_counter = receipt_counter + 1 WHERE id = ? RETURNING receipt_counter)
     UPDATE orders SET receipt_number = n.receipt_counter,
       snapshot = orders.snapshot || jsonb_build_object('receiptNumber', n.receipt_counter)
     FROM n WHERE orders.id = ? RETURNING n.receipt_counter`,
      [locationId, orderId],
    ),
  );
  if (!rows.length) throw new Error(`location ${locationId} or order ${orderId} not found`);
  return rows[0].receipt_counter as number;
}
