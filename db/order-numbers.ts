import type { Knex } from 'knex';

/**
 * Order numbers run 1..99 per location and wrap. Idempotent per order: a retry (the checkout's
 * activity, or the API repeating a create) gets the number it was given the first time.
 */
export async function assignOrderNumber(knex: Knex, orderId: string, locationId: string): Promise<number> {
  return knex.transaction(async (trx) => {
    // Two creates of one order at once (a terminal retrying, two taps) take turns here, so the
    // second finds the first's number instead of both drawing one and one insert failing.
    await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`order-number:${orderId}`]);
    const existing = await trx('order_number_assignments').where('order_id', orderId).first('number');
    if (existing) return existing.number as number;
    const [loc] = await trx('locations')
      .where('id', locationId)
      .update({ order_number_counter: knex.raw('(order_number_counter % 99) + 1') })
      .returning('order_number_counter');
    if (!loc) throw new Error(`location ${locationId} not found`);
    await trx('order_number_assignments').insert({
      order_id: orderId,
      location_id: locationId,
      number: loc.order_number_counter,
    });
    return loc.order_number_counter as number;
  });
}
