import type { Knex } from 'knex';

/**
 * Front of house: tables and who sits at them, customers and their loyalty points.
 *
 * - `table_claims`: one row per order opened on (or moved to) a table. The partial unique index
 *   is the one place that decides "one open order per table": two terminals racing for a table
 *   both insert, Postgres lets exactly one through. New checks and split-off orders claim with
 *   `new_check` and share the table. The closing transaction releases the claim.
 * - `customers.loyalty_points` is the balance (never negative: a CHECK, so two redemptions at once
 *   cannot overdraw it); `loyalty_ledger` explains it, one keyed row per effect so a retry adds
 *   nothing twice.
 */
export async function up(knex: Knex): Promise<void> {
  const location = (t: Knex.CreateTableBuilder) =>
    t.uuid('location_id').notNullable().references('locations.id').onDelete('CASCADE').index();

  await knex.schema.createTable('tables', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    location(t);
    t.text('name').notNullable();
    t.integer('seats').notNullable().defaultTo(2);
    t.text('area');
    t.integer('sort_order').notNullable().defaultTo(0);
    t.boolean('active').notNullable().defaultTo(true);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['location_id', 'name'], { indexName: 'tables_location_name_unique' });
  });

  await knex.schema.createTable('table_claims', (t) => {
    t.uuid('order_id').primary();
    location(t);
    t.uuid('table_id').notNullable().references('tables.id').onDelete('CASCADE');
    t.boolean('new_check').notNullable().defaultTo(false).comment('a second check (or a split) sharing the table');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('released_at', { useTz: true }).comment('set when the order closed or was cancelled');
  });
  await knex.raw(
    'CREATE UNIQUE INDEX table_claims_one_open_order ON table_claims (table_id) WHERE released_at IS NULL AND NOT new_check',
  );
  await knex.raw('CREATE INDEX table_claims_open ON table_claims (table_id) WHERE released_at IS NULL');

  await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  await knex.schema.createTable('customers', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    location(t);
    t.text('name').notNullable();
    t.text('phone');
    t.text('email');
    t.text('note');
    t.integer('loyalty_points').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    'ALTER TABLE customers ADD CONSTRAINT customers_loyalty_points_not_negative CHECK (loyalty_points >= 0)',
  );
  // Substring search over name, phone and e-mail: a trigram index keeps ILIKE '%q%' fast at 100k rows.
  await knex.raw(`CREATE INDEX customers_search ON customers USING gin ((${CUSTOMER_SEARCH_TEXT}) gin_trgm_ops)`);

  await knex.schema.createTable('loyalty_ledger', (t) => {
    t.bigIncrements('id');
    location(t);
    t.uuid('customer_id').notNullable().references('customers.id').onDelete('CASCADE');
    t.text('kind').notNullable().checkIn(['earn', 'redeem', 'refund', 'return', 'adjust'], 'loyalty_ledger_kind_check');
    t.integer('points').notNullable().comment('signed change of the balance');
    t.integer('shortfall').notNullable().defaultTo(0).comment('points a take-back could not take (balance too low)');
    t.integer('basis').comment('earn: the net it was earned on; redeem: the amount it paid');
    t.uuid('order_id');
    t.uuid('payment_id');
    t.uuid('refund_id');
    t.uuid('staff_id');
    t.text('reason');
    t.text('key').notNullable().unique().comment('one row per effect: a retry inserts nothing');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['customer_id', 'created_at']);
    t.index(['order_id']);
  });

  await knex.schema.alterTable('orders', (t) => {
    t.uuid('table_id');
    t.uuid('customer_id');
    t.index(['customer_id', 'created_at']);
  });

  await knex.schema.alterTable('locations', (t) => {
    t.boolean('loyalty_enabled').notNullable().defaultTo(false);
    t.integer('loyalty_points_per100').notNullable().defaultTo(0);
    t.integer('loyalty_point_value').notNullable().defaultTo(0);
  });
}

/** The text customer search matches (the same expression as the index, or the index is not used). */
export const CUSTOMER_SEARCH_TEXT = `lower(name || ' ' || coalesce(phone, '') || ' ' || coalesce(email, ''))`;

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('locations', (t) =>
    t.dropColumns('loyalty_enabled', 'loyalty_points_per100', 'loyalty_point_value'),
  );
  await knex.schema.alterTable('orders', (t) => {
    t.dropIndex(['customer_id', 'created_at']);
    t.dropColumns('table_id', 'customer_id');
  });
  for (const table of ['loyalty_ledger', 'customers', 'table_claims', 'tables'])
    await knex.schema.dropTableIfExists(table);
}
