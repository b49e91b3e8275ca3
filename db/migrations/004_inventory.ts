import type { Knex } from 'knex';

/**
 * Inventory writers (001 created the tables without them): every movement records the quantity
 * it left and what caused it, low-stock alerts become rows, and stock-count lines keep what the
 * system held at the moment each item was counted.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('inventory_movements', (t) => {
    // Strict insertion order: the movements list pages by it (created_at ties within a transaction).
    t.bigIncrements('seq', { primaryKey: false });
    t.integer('quantity_after');
    t.text('reference').comment('the order, refund or stock count that caused the movement');
    t.index(['location_id', 'seq']);
    t.index(['item_id', 'seq']);
  });
  // Before 004 a cancelled order's reversal used its own reason; it is a reversed sale.
  await knex('inventory_movements').where('reason', 'cancel').update({ reason: 'sale' });
  await knex.raw(
    "ALTER TABLE inventory_movements ADD CONSTRAINT inventory_movements_reason CHECK (reason IN ('sale', 'refund', 'adjustment', 'receive', 'count'))",
  );

  await knex.schema.createTable('low_stock_alerts', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('location_id').notNullable().references('locations.id').onDelete('CASCADE').index();
    t.uuid('item_id').notNullable().references('items.id').onDelete('CASCADE');
    t.text('status').notNullable().defaultTo('active');
    t.integer('quantity').notNullable().comment('stock when the alert was raised');
    t.integer('min_stock').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('resolved_at', { useTz: true });
    t.uuid('resolved_by').comment('staff who resolved it by hand; null when stock rose above the minimum');
    t.text('resolution');
  });
  await knex.raw(
    "ALTER TABLE low_stock_alerts ADD CONSTRAINT low_stock_alerts_status CHECK (status IN ('active', 'resolved'))",
  );
  await knex.raw(
    "CREATE UNIQUE INDEX low_stock_alerts_one_active ON low_stock_alerts (item_id) WHERE status = 'active'",
  );

  await knex.schema.alterTable('stock_counts', (t) => {
    t.timestamp('cancelled_at', { useTz: true });
    t.text('cancel_reason');
    t.uuid('completed_by');
    t.index(['location_id', 'status', 'created_at']);
  });
  await knex.schema.alterTable('stock_count_lines', (t) => {
    t.text('name');
    t.integer('cost');
    t.integer('system_at_count').comment("the item's stock when it was counted (read under a row lock)");
    t.timestamp('counted_at', { useTz: true });
    t.uuid('counted_by');
    t.integer('count_seq').notNullable().defaultTo(0).comment('the count workflow numbers recordings: the newest wins');
    t.integer('applied_delta');
    t.boolean('active')
      .notNullable()
      .defaultTo(true)
      .comment('while its count is open: an item is in at most one open count');
  });
  await knex.raw('CREATE UNIQUE INDEX stock_count_lines_one_open_count ON stock_count_lines (item_id) WHERE active');

  // Stock events (adjustments, counts) belong to no order.
  await knex.schema.alterTable('order_events', (t) => {
    t.uuid('order_id').nullable().alter();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex('order_events').whereNull('order_id').delete();
  await knex.schema.alterTable('order_events', (t) => {
    t.uuid('order_id').notNullable().alter();
  });
  await knex.raw('DROP INDEX IF EXISTS stock_count_lines_one_open_count');
  await knex.schema.alterTable('stock_count_lines', (t) => {
    t.dropColumns(
      'name',
      'cost',
      'system_at_count',
      'counted_at',
      'counted_by',
      'count_seq',
      'applied_delta',
      'active',
    );
  });
  await knex.schema.alterTable('stock_counts', (t) => {
    t.dropIndex(['location_id', 'status', 'created_at']);
    t.dropColumns('cancelled_at', 'cancel_reason', 'completed_by');
  });
  await knex.schema.dropTableIfExists('low_stock_alerts');
  await knex.raw('ALTER TABLE inventory_movements DROP CONSTRAINT IF EXISTS inventory_movements_reason');
  await knex.schema.alterTable('inventory_movements', (t) => {
    t.dropIndex(['location_id', 'seq']);
    t.dropIndex(['item_id', 'seq']);
    t.dropColumns('seq', 'quantity_after', 'reference');
  });
}
