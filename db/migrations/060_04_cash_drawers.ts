import type { Knex } from 'knex';

/**
 * Cash drawer sessions: opened with a float, closed with a counted amount; every cash movement in
 * between is one row of `drawer_movements` (signed `delta`), so expected = float + Σ delta.
 * Cash payments and cash refunds are counted in by triggers on `payments` and `refunds` (they
 * are written when an order closes and when a refund settles, by workflows that know nothing of
 * drawers), into the location's open session that was opened last; keyed by payment / refund so a
 * retried write counts nothing twice. One open session per drawer (partial unique index).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('drawer_sessions', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('location_id').notNullable().references('locations.id').onDelete('CASCADE');
    t.text('drawer_id').notNullable();
    t.text('status').notNullable().defaultTo('open').checkIn(['open', 'closed'], 'drawer_sessions_status_check');
    t.integer('float').notNullable();
    t.uuid('opened_by').references('staff.id').onDelete('SET NULL');
    t.timestamp('opened_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.integer('expected').comment('float + movements, fixed at close');
    t.integer('counted');
    t.uuid('closed_by').references('staff.id').onDelete('SET NULL');
    t.timestamp('closed_at', { useTz: true });
    t.index(['location_id', 'opened_at']);
  });
  await knex.raw(
    "CREATE UNIQUE INDEX drawer_sessions_one_open ON drawer_sessions (location_id, drawer_id) WHERE status = 'open'",
  );

  await knex.schema.createTable('drawer_movements', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('location_id').notNullable().references('locations.id').onDelete('CASCADE');
    t.uuid('session_id').notNullable().references('drawer_sessions.id').onDelete('CASCADE').index();
    t.text('type')
      .notNullable()
      .checkIn(['paid_in', 'paid_out', 'cash_payment', 'cash_refund'], 'drawer_movements_type_check');
    t.bigInteger('delta').notNullable().comment('signed minor units: into the drawer > 0');
    t.text('reason');
    t.uuid('payment_id').unique();
    t.uuid('refund_id').unique();
    t.uuid('staff_id').references('staff.id').onDelete('SET NULL');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.raw(`
    CREATE FUNCTION tillflow_drawer_session(loc uuid) RETURNS uuid LANGUAGE sql STABLE AS $$
      SELECT id FROM drawer_sessions WHERE location_id = loc AND status = 'open' ORDER BY opened_at DESC, id DESC LIMIT 1
    $$`);
  await knex.raw(`
    CREATE FUNCTION tillflow_count_cash_payment() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE session uuid := tillflow_drawer_session(NEW.location_id);
    BEGIN
      IF session IS NOT NULL AND NEW.method = 'cash' AND NEW.status IN ('succeeded', 'refunded') AND NEW.amount + NEW.tip > 0 THEN
        INSERT INTO drawer_movements (location_id, session_id, type, delta, payment_id)
        VALUES (NEW.location_id, session, 'cash_payment', NEW.amount + NEW.tip, NEW.id)
        ON CONFLICT (payment_id) DO NOTHING;
      END IF;
      RETURN NEW;
    END $$`);
  await knex.raw(`
    CREATE FUNCTION tillflow_count_cash_refund() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE session uuid := tillflow_drawer_session(NEW.location_id);
    BEGIN
      IF session IS NOT NULL AND NEW.method = 'cash' AND NEW.status = 'succeeded' THEN
        INSERT INTO drawer_movements (location_id, session_id, type, delta, refund_id, staff_id)
        VALUES (NEW.location_id, session, 'cash_refund', -NEW.amount, NEW.id, NEW.staff_id)
        ON CONFLICT (refund_id) DO NOTHING;
      END IF;
      RETURN NEW;
    END $$`);
  await knex.raw(
    'CREATE TRIGGER payments_count_cash AFTER INSERT OR UPDATE OF status ON payments FOR EACH ROW EXECUTE FUNCTION tillflow_count_cash_payment()',
  );
  await knex.raw(
    'CREATE TRIGGER refunds_count_cash AFTER INSERT OR UPDATE OF status ON refunds FOR EACH ROW EXECUTE FUNCTION tillflow_count_cash_refund()',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER IF EXISTS payments_count_cash ON payments');
  await knex.raw('DROP TRIGGER IF EXISTS refunds_count_cash ON refunds');
  await knex.raw('DROP FUNCTION IF EXISTS tillflow_count_cash_payment()');
  await knex.raw('DROP FUNCTION IF EXISTS tillflow_count_cash_refund()');
  await knex.raw('DROP FUNCTION IF EXISTS tillflow_drawer_session(uuid)');
  await knex.schema.dropTableIfExists('drawer_movements');
  await knex.schema.dropTableIfExists('drawer_sessions');
}
