import type { Knex } from 'knex';

/**
 * A cash drawer per terminal: a session may be opened for a terminal (`terminal_id`, one open
 * drawer per terminal), and a payment remembers the terminal that took it. Cash then counts into
 * that terminal's open session; a terminal without one counts into a shared session (opened for
 * no terminal), never into another terminal's. A payment with no terminal keeps the old rule
 * (a shared session first, else the location's session opened last).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('drawer_sessions', (t) => {
    t.text('terminal_id').comment('the terminal whose drawer this is (null: a shared drawer)');
  });
  await knex.raw(
    "CREATE UNIQUE INDEX drawer_sessions_one_open_per_terminal ON drawer_sessions (location_id, terminal_id) WHERE status = 'open' AND terminal_id IS NOT NULL",
  );
  await knex.schema.alterTable('payments', (t) => {
    t.text('terminal_id').comment('the terminal that took the payment');
  });
  await knex.raw(`
    CREATE FUNCTION tillflow_drawer_session(loc uuid, terminal text) RETURNS uuid LANGUAGE sql STABLE AS $$
      SELECT id FROM drawer_sessions
      WHERE location_id = loc AND status = 'open'
        AND (terminal IS NULL OR terminal_id IS NULL OR terminal_id = terminal)
      ORDER BY terminal_id IS NOT DISTINCT FROM terminal DESC, terminal_id IS NULL DESC, opened_at DESC, id DESC
      LIMIT 1
    $$`);
  await knex.raw(`
    CREATE OR REPLACE FUNCTION tillflow_count_cash_payment() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE session uuid := tillflow_drawer_session(NEW.location_id, NEW.terminal_id);
    BEGIN
      IF session IS NOT NULL AND NEW.method = 'cash' AND NEW.status IN ('succeeded', 'refunded') AND NEW.amount + NEW.tip > 0 THEN
        INSERT INTO drawer_movements (location_id, session_id, type, delta, payment_id)
        VALUES (NEW.location_id, session, 'cash_payment', NEW.amount + NEW.tip, NEW.id)
        ON CONFLICT (payment_id) DO NOTHING;
      END IF;
      RETURN NEW;
    END $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION tillflow_count_cash_payment() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE session uuid := tillflow_drawer_session(NEW.location_id);
    BEGIN
      IF session IS NOT NULL AND NEW.method = 'cash' AND NEW.status IN ('succeeded', 'refunded') AND NEW.amount + NEW.tip > 0 THEN
        INSERT INTO drawer_movements (location_id, session_id, type, delta, payment_id)
        VALUES (NEW.location_id, session, 'cash_payment', NEW.amount + NEW.tip, NEW.id)
        ON CONFLICT (payment_id) DO NOTHING;
      END IF;
      RETURN NEW;
    END $$`);
  await knex.raw('DROP FUNCTION IF EXISTS tillflow_drawer_session(uuid, text)');
  await knex.schema.alterTable('payments', (t) => t.dropColumn('terminal_id'));
  await knex.raw('DROP INDEX IF EXISTS drawer_sessions_one_open_per_terminal');
  await knex.schema.alterTable('drawer_sessions', (t) => t.dropColumn('terminal_id'));
}
