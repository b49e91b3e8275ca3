import type { Knex } from 'knex';

/** Manager approval: a discount above this share of the order (percent) needs a manager's PIN; null = never. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('locations', (t) => {
    t.integer('approval_discount_percent').comment('discounts above this percent need a manager PIN (null: none do)');
  });
  await knex.raw(
    'ALTER TABLE locations ADD CONSTRAINT locations_approval_discount_percent_check CHECK (approval_discount_percent BETWEEN 0 AND 100)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('locations', (t) => t.dropColumn('approval_discount_percent'));
}
