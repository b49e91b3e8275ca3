import type { Knex } from 'knex';

/**
 * The whole schema, designed together: catalog, staff and timeclock, orders and their children,
 * payments, refunds, inventory, stock counts and the real-time event log.
 * Money is integer minor units; rates are basis points; every table carries location_id.
 */
export async function up(knex: Knex): Promise<void> {
  const id = (t: Knex.CreateTableBuilder) => t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
  const location = (t: Knex.CreateTableBuilder) =>
    t.uuid('location_id').notNullable().references('locations.id').onDelete('CASCADE').index();
  const timestamps = (t: Knex.CreateTableBuilder) => {
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  };

  await knex.schema.createTable('locations', (t) => {
    id(t);
    t.text('name').notNullable();
    t.string('currency', 3).notNullable().defaultTo('USD');
    t.text('timezone').notNullable().defaultTo('UTC');
    t.integer('tax_rate').notNullable().defaultTo(0);
    t.boolean('tax_inclusive').notNullable().defaultTo(false);
    t.integer('service_charge_rate').notNullable().defaultTo(0);
    t.boolean('card_fee_enabled').notNullable().defaultTo(false);
    t.integer('card_fee_rate').notNullable().defaultTo(0);
    t.integer('card_fee_min').notNullable().defaultTo(0);
    t.boolean('discounts_enabled').notNullable().defaultTo(true);
    t.boolean('auto_print_receipt').notNullable().defaultTo(false);
    t.boolean('auto_print_kitchen').notNullable().defaultTo(true);
    t.boolean('auto_print_order_number').notNullable().defaultTo(false);
    t.integer('order_number_counter').notNullable().defaultTo(0);
    timestamps(t);
  });

  await knex.schema.createTable('staff', (t) => {
    id(t);
    location(t);
    t.text('name').notNullable();
    t.enu('role', ['admin', 'manager', 'cashier', 'kitchen'], {
      useNative: true,
      enumName: 'staff_role',
    }).notNullable();
    t.text('pin_lookup').notNullable().comment('HMAC of the PIN with the server secret: finds the staff member');
    t.text('pin_hash').notNullable().comment('scrypt hash of the PIN: verifies it');
    t.integer('hourly_rate').notNullable().defaultTo(0);
    t.boolean('active').notNullable().defaultTo(true);
    t.timestamp('deleted_at', { useTz: true });
    timestamps(t);
  });
  await knex.raw(
    'CREATE UNIQUE INDEX staff_pin_per_location ON staff (location_id, pin_lookup) WHERE deleted_at IS NULL',
  );

  await knex.schema.createTable('sessions', (t) => {
    id(t);
    location(t);
    t.uuid('staff_id').notNullable().references('staff.id').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('revoked_at', { useTz: true });
  });

  await knex.schema.createTable('login_failures', (t) => {
    t.bigIncrements('id');
    t.text('client_key').notNullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['client_key', 'at']);
  });

  await knex.schema.createTable('shifts', (t) => {
    id(t);
    location(t);
    t.uuid('staff_id').notNullable().references('staff.id').onDelete('CASCADE').index();
    t.timestamp('clock_in_at', { useTz: true }).notNullable();
    t.timestamp('clock_out_at', { useTz: true });
    t.integer('hourly_rate').notNullable().defaultTo(0);
  });
  await knex.raw('CREATE UNIQUE INDEX shifts_one_open_per_staff ON shifts (staff_id) WHERE clock_out_at IS NULL');

  await knex.schema.createTable('breaks', (t) => {
    id(t);
    location(t);
    t.uuid('shift_id').notNullable().references('shifts.id').onDelete('CASCADE').index();
    t.timestamp('start_at', { useTz: true }).notNullable();
    t.timestamp('end_at', { useTz: true });
  });
  await knex.raw('CREATE UNIQUE INDEX breaks_one_open_per_shift ON breaks (shift_id) WHERE end_at IS NULL');

  await knex.schema.createTable('categories', (t) => {
    id(t);
    location(t);
    t.text('name').notNullable();
    t.integer('sort_order').notNullable().defaultTo(0);
    t.boolean('available').notNullable().defaultTo(true);
    t.string('color', 16);
    timestamps(t);
  });

  await knex.schema.createTable('items', (t) => {
    id(t);
    location(t);
    t.uuid('category_id').references('categories.id').onDelete('SET NULL').index();
    t.text('name').notNullable();
    t.integer('price').notNullable();
    t.integer('event_price');
    t.text('sku');
    t.text('barcode');
    t.integer('cost');
    t.boolean('track_stock').notNullable().defaultTo(false);
    t.integer('stock_quantity').notNullable().defaultTo(0);
    t.integer('min_stock').notNullable().defaultTo(0);
    t.integer('sort_order').notNullable().defaultTo(0);
    t.boolean('available').notNullable().defaultTo(true);
    t.timestamp('deleted_at', { useTz: true });
    timestamps(t);
  });
  await knex.raw(
    'CREATE UNIQUE INDEX items_barcode_per_location ON items (location_id, barcode) WHERE barcode IS NOT NULL AND deleted_at IS NULL',
  );
  await knex.raw(
    'CREATE UNIQUE INDEX items_sku_per_location ON items (location_id, sku) WHERE sku IS NOT NULL AND deleted_at IS NULL',
  );

  await knex.schema.createTable('modifier_lists', (t) => {
    id(t);
    location(t);
    t.text('name').notNullable();
    t.integer('min_selections').notNullable().defaultTo(0);
    t.integer('max_selections').notNullable().defaultTo(1);
    t.integer('sort_order').notNullable().defaultTo(0);
    t.boolean('available').notNullable().defaultTo(true);
    timestamps(t);
  });

  await knex.schema.createTable('modifiers', (t) => {
    id(t);
    location(t);
    t.uuid('modifier_list_id').notNullable().references('modifier_lists.id').onDelete('CASCADE').index();
    t.text('name').notNullable();
    t.integer('price').notNullable().defaultTo(0);
    t.integer('sort_order').notNullable().defaultTo(0);
    t.boolean('available').notNullable().defaultTo(true);
  });

  await knex.schema.createTable('item_modifier_lists', (t) => {
    location(t);
    t.uuid('item_id').notNullable().references('items.id').onDelete('CASCADE');
    t.uuid('modifier_list_id').notNullable().references('modifier_lists.id').onDelete('CASCADE');
    t.integer('sort_order').notNullable().defaultTo(0);
    t.primary(['item_id', 'modifier_list_id']);
  });

  await knex.schema.createTable('discount_groups', (t) => {
    id(t);
    location(t);
    t.text('name').notNullable();
    t.integer('sort_order').notNullable().defaultTo(0);
  });

  await knex.schema.createTable('discounts', (t) => {
    id(t);
    location(t);
    t.uuid('group_id').references('discount_groups.id').onDelete('SET NULL');
    t.text('name').notNullable();
    t.enu('type', ['percent', 'amount'], { useNative: true, enumName: 'discount_type' }).notNullable();
    t.integer('value').notNullable().comment('percent: basis points; amount: minor units');
    t.boolean('available').notNullable().defaultTo(true);
    t.integer('sort_order').notNullable().defaultTo(0);
    timestamps(t);
  });

  await knex.schema.createTable('printers', (t) => {
    id(t);
    location(t);
    t.text('name').notNullable();
    t.enu('role', ['receipt', 'kitchen'], { useNative: true, enumName: 'printer_role' }).notNullable();
    t.text('address').notNullable();
    t.boolean('enabled').notNullable().defaultTo(true);
    timestamps(t);
  });

  await knex.schema.createTable('order_number_assignments', (t) => {
    t.uuid('order_id').primary();
    location(t);
    t.integer('number').notNullable();
    t.timestamp('assigned_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // One row per order, kept current from the workflow (the live projection used for lists and
  // reconnects); lines, discounts and payments are written in one transaction when it closes.
  await knex.schema.createTable('orders', (t) => {
    t.uuid('id').primary();
    location(t);
    t.integer('order_number');
    t.text('status').notNullable();
    t.text('kitchen_status').notNullable();
    t.text('type').notNullable();
    t.text('table_label');
    t.text('customer_name');
    t.uuid('staff_id').references('staff.id').onDelete('SET NULL');
    t.text('terminal_id');
    t.string('currency', 3).notNullable();
    for (const c of ['subtotal', 'discount', 'service_charge', 'tax', 'card_fee', 'tip', 'total', 'paid', 'refunded']) {
      t.integer(c).notNullable().defaultTo(0);
    }
    t.integer('version').notNullable();
    t.jsonb('snapshot').notNullable();
    t.text('cancel_reason');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.timestamp('closed_at', { useTz: true });
    t.timestamp('persisted_at', { useTz: true }).comment('set by the closing transaction');
    t.index(['location_id', 'created_at']);
    t.index(['location_id', 'status']);
    t.index(['location_id', 'closed_at']);
  });

  await knex.raw("CREATE INDEX orders_snapshot_payments ON orders USING gin ((snapshot->'payments') jsonb_path_ops)");

  await knex.schema.createTable('order_lines', (t) => {
    t.uuid('id').primary();
    location(t);
    t.uuid('order_id').notNullable().references('orders.id').onDelete('CASCADE').index();
    t.uuid('item_id').references('items.id').onDelete('SET NULL');
    t.text('name').notNullable();
    t.integer('quantity').notNullable();
    t.integer('unit_price').notNullable();
    t.integer('total').notNullable();
    t.text('note');
    t.integer('position').notNullable();
  });

  await knex.schema.createTable('order_line_modifiers', (t) => {
    id(t);
    location(t);
    t.uuid('order_line_id').notNullable().references('order_lines.id').onDelete('CASCADE').index();
    t.uuid('modifier_id').references('modifiers.id').onDelete('SET NULL');
    t.text('name').notNullable();
    t.integer('price').notNullable();
  });

  await knex.schema.createTable('order_discounts', (t) => {
    location(t);
    t.uuid('order_id').notNullable().references('orders.id').onDelete('CASCADE');
    t.uuid('discount_id').notNullable();
    t.text('name').notNullable();
    t.text('type').notNullable();
    t.integer('value').notNullable();
    t.integer('amount').notNullable();
    t.primary(['order_id', 'discount_id']);
  });

  await knex.schema.createTable('payments', (t) => {
    t.uuid('id').primary();
    location(t);
    t.uuid('order_id').notNullable().index();
    t.integer('seq').notNullable();
    t.text('method').notNullable();
    t.text('provider');
    t.text('status').notNullable();
    t.integer('amount').notNullable();
    t.integer('tip').notNullable().defaultTo(0);
    t.integer('fee').notNullable().defaultTo(0);
    t.integer('tendered');
    t.integer('change');
    t.text('reference').index();
    t.text('receipt').comment("the gateway's receipt (M-Pesa receipt number), needed for reversals");
    t.text('failure_reason');
    t.text('workflow_id');
    t.text('callback_token').unique();
    t.boolean('sandbox').notNullable().defaultTo(false);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('settled_at', { useTz: true });
    t.unique(['order_id', 'seq']);
  });

  await knex.schema.createTable('refunds', (t) => {
    t.uuid('id').primary();
    location(t);
    t.uuid('order_id').notNullable().index();
    t.uuid('payment_id');
    t.integer('amount').notNullable();
    t.text('status').notNullable();
    t.text('reason').notNullable();
    t.uuid('staff_id');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('settled_at', { useTz: true });
  });

  await knex.schema.createTable('stock_counts', (t) => {
    id(t);
    location(t);
    t.uuid('category_id');
    t.text('status').notNullable();
    t.uuid('staff_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('completed_at', { useTz: true });
  });

  await knex.schema.createTable('stock_count_lines', (t) => {
    location(t);
    t.uuid('stock_count_id').notNullable().references('stock_counts.id').onDelete('CASCADE');
    t.uuid('item_id').notNullable().references('items.id').onDelete('CASCADE');
    t.integer('expected').notNullable();
    t.integer('counted');
    t.primary(['stock_count_id', 'item_id']);
  });

  await knex.schema.createTable('inventory_movements', (t) => {
    id(t);
    location(t);
    t.uuid('item_id').notNullable().references('items.id').onDelete('CASCADE').index();
    t.integer('delta').notNullable();
    t.text('reason').notNullable();
    t.uuid('order_id');
    t.uuid('stock_count_id');
    t.uuid('staff_id');
    t.text('note');
    t.text('idempotency_key').unique().comment('one movement per sale line, cancel, count: retries cannot apply twice');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // Versioned events for real-time fan-out; NOTIFY carries only (id), listeners read the row.
  await knex.schema.createTable('order_events', (t) => {
    t.bigIncrements('id');
    location(t);
    t.uuid('order_id').notNullable();
    t.integer('version').notNullable();
    t.text('event').notNullable();
    t.specificType('topics', 'text[]').notNullable();
    t.jsonb('data').notNullable();
    t.text('dedupe_key').notNullable().unique().comment('a retried publish inserts nothing twice');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['order_id', 'version']);
  });

  await knex.schema.createTable('idempotency_keys', (t) => {
    location(t);
    t.text('key').notNullable();
    t.text('scope').notNullable().comment('method and path the key was used with');
    t.integer('status').notNullable();
    t.jsonb('body');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['location_id', 'scope', 'key']);
  });

  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id');
    location(t);
    t.uuid('staff_id');
    t.text('action').notNullable();
    t.text('subject');
    t.jsonb('data');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  const tables = [
    'audit_log',
    'idempotency_keys',
    'order_events',
    'inventory_movements',
    'stock_count_lines',
    'stock_counts',
    'refunds',
    'payments',
    'order_discounts',
    'order_line_modifiers',
    'order_lines',
    'orders',
    'order_number_assignments',
    'printers',
    'discounts',
    'discount_groups',
    'item_modifier_lists',
    'modifiers',
    'modifier_lists',
    'items',
    'categories',
    'breaks',
    'shifts',
    'login_failures',
    'sessions',
    'staff',
    'locations',
  ];
  for (const table of tables) await knex.schema.dropTableIfExists(table);
  for (const type of ['staff_role', 'discount_type', 'printer_role']) await knex.raw(`DROP TYPE IF EXISTS ${type}`);
}
