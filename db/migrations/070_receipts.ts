import type { Knex } from 'knex';

/**
 * Receipt numbers: one gap-free sequence per location (order numbers 1..99 wrap; receipts and
 * invoices need their own). The counter is a column, not a Postgres SEQUENCE: a sequence skips a
 * value whenever a transaction rolls back, while the counter rolls back with the close that took
 * it. Unique per location, so a number can never be given twice.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('locations', (t) => {
    t.integer('receipt_counter').notNullable().defaultTo(0).comment('the last receipt number given at this location');
  });
  await knex.schema.alterTable('orders', (t) => {
    t.integer('receipt_number').comment('set once by the closing transaction of a sold order');
    t.unique(['location_id', 'receipt_number']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.dropUnique(['location_id', 'receipt_number']);
    t.dropColumn('receipt_number');
  });
  await knex.schema.alterTable('locations', (t) => t.dropColumn('receipt_counter'));
}
