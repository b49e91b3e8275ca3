import type { Knex } from 'knex';
import { prepared } from './prepared';

/**
 * Order numbers run 1..99 per location and wrap. Idempotent per order: a retry (the checkout's
 * activity, or the API repeating a create) gets the number it was given the first time.
 *
 * One statement (one round trip, and the location's counter row is locked only while it runs:
 * every terminal's new order waits for that lock). Two creates of one order at once (a terminal
 * retrying, two taps) may both draw a number; the second's insert waits for the first's and is
 * skipped, and it reads the first's number. The number it drew is not used: one order number of
 * the 99 skipped, which nobody notices (receipt numbers, which must have no gaps, are drawn at close).
 */
export async function assignOrderNumber(knex: Knex, orderId: string, locationId: string): Promise<number> {
  const { rows } = await prepared(
    knex.raw(
      `with existing as (select number from order_number_assignments where order_id = :orderId),
     drawn as (
       update locations set order_number_counter = (order_number_counter % 99) + 1
       where id = :locationId and not exists (select 1 from existing)
       returning order_number_counter as number),
     assigned as (
       insert into order_number_assignments (order_id, location_id, number)
       select :orderId, :locationId, number from drawn
       on conflict (order_id) do nothing
       returning number)
     select (select number from existing) as existing, (select number from assigned) as assigned,
            exists (select 1 from locations where id = :locationId) as location`,
      { orderId, locationId },
    ),
  );
  const row = rows[0] as { existing: number | null; assigned: number | null; location: boolean };
  if (!row.location) throw new Error(`location ${locationId} not found`);
  const number = row.existing ?? row.assigned;
  if (number !== null) return number;
  // The same order's other create won the insert: its number is committed now.
  const winner = await knex('order_number_assignments').where('order_id', orderId).first('number');
  return winner.number as number;
}
