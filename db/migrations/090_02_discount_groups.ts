import type { Knex } from 'knex';

/**
 * Discount groups become a full resource: a group switched off (`available`) takes all its
 * discounts off the terminals at once (refused on orders, left out of the menu), and carries
 * the timestamps every other catalog resource has.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('discount_groups', (t) => {
    t.boolean('available').notNullable().defaultTo(true);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('discount_groups', (t) => {
    t.dropColumn('available');
    t.dropColumn('created_at');
    t.dropColumn('updated_at');
  });
}
