import type { Knex } from 'knex';

/**
 * Daily report rollups (api/report-rollups.ts): per location and local day that has ended, the
 * report's aggregate rows as JSON, built lazily by the first report that reads the day, with the
 * snapshot (pg_snapshot) they were computed from.
 *
 * Invalidation is done by the database itself, so no write path (closes, refunds, late persists,
 * tests or scripts editing rows) can forget it: statement-level triggers on orders, order_lines,
 * payments and refunds append a touch (location, local day, writing transaction id) for every day
 * whose figures a statement may change. A rollup is valid while every touch of its day is visible
 * in its snapshot, i.e. its data already includes that write; a write that committed after the
 * build's snapshot (however late, even racing the build) makes it stale. Touches are only ever
 * inserted, so writers never wait for one another or for a build (no hot row, no lock cycle); a
 * build deletes the touches its snapshot saw, and old touches of days without a rollup (they
 * matter to no build: a later one sees them).
 */

const COUNTED = `('closed', 'partially_refunded', 'refunded')`;

/** Per table: the instants (location_id, at) whose local day a changed row belongs to. */
const INSTANTS: Record<string, { rows: (t: string) => string; key: (r: string) => string }> = {
  orders: {
    rows: (t) => `select x.location_id, x.closed_at as at from ${t} x`,
    key: (r) =>
      `(${r}.location_id, ${r}.closed_at, ${r}.persisted_at is null, ${r}.status in ${COUNTED}, ${r}.subtotal, ${r}.discount, ` +
      `${r}.tax, ${r}.service_charge, ${r}.tip, ${r}.card_fee, ${r}.staff_id)`,
  },
  order_lines: {
    rows: (t) => `select o.location_id, o.closed_at as at from ${t} x join orders o on o.id = x.order_id`,
    key: (r) => `(${r}.order_id, ${r}.item_id, ${r}.name, ${r}.quantity, ${r}.total, ${r}.position)`,
  },
  payments: {
    rows: (t) => `select o.location_id, o.closed_at as at from ${t} x join orders o on o.id = x.order_id`,
    key: (r) => `(${r}.order_id, ${r}.location_id, ${r}.status, ${r}.method, ${r}.amount)`,
  },
  refunds: {
    rows: (t) => `select x.location_id, x.settled_at as at from ${t} x`,
    key: (r) => `(${r}.location_id, ${r}.status, ${r}.amount, ${r}.method, ${r}.settled_at, ${r}.payment_id)`,
  },
};

const TOUCH = `
  CREATE FUNCTION report_rollup_touch(locs uuid[], ats timestamptz[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO report_day_touches (location_id, day)
    SELECT DISTINCT t.loc, (t.at AT TIME ZONE l.timezone)::date
      FROM unnest(locs, ats) AS t(loc, at) JOIN locations l ON l.id = t.loc
     WHERE t.at IS NOT NULL
  $$`;

/** Local days depend on the timezone: a new one starts the location's rollups afresh. */
const TIMEZONE = [
  `CREATE FUNCTION report_rollup_timezone() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN DELETE FROM report_day_rollups WHERE location_id = NEW.id; RETURN NULL; END $$`,
  `CREATE TRIGGER report_rollup_timezone AFTER UPDATE OF timezone ON locations FOR EACH ROW
   WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone) EXECUTE FUNCTION report_rollup_timezone()`,
];

function triggerFunction(table: string): string {
  const { rows, key } = INSTANTS[table]!;
  const touch = (from: string) =>
    `PERFORM report_rollup_touch(array_agg(i.location_id), array_agg(i.at)) FROM (${from}) i;`;
  // An UPDATE touches the old and the new day of each row whose reported columns changed.
  const changed = (side: 'old' | 'new') =>
    `(select ${side}_rows.* from old_rows join new_rows on new_rows.id = old_rows.id where ${key('old_rows')} is distinct from ${key('new_rows')})`;
  return `
    CREATE FUNCTION report_rollup_${table}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN ${touch(rows('new_rows'))}
      ELSIF TG_OP = 'DELETE' THEN ${touch(rows('old_rows'))}
      ELSE
        ${touch(rows(changed('old')))}
        ${touch(rows(changed('new')))}
      END IF;
      RETURN NULL;
    END $$`;
}

function triggers(table: string): string[] {
  const referencing = {
    INSERT: 'NEW TABLE AS new_rows',
    UPDATE: 'OLD TABLE AS old_rows NEW TABLE AS new_rows',
    DELETE: 'OLD TABLE AS old_rows',
  };
  return Object.entries(referencing).map(
    ([op, ref]) =>
      `CREATE TRIGGER report_rollup_${table}_${op.toLowerCase()} AFTER ${op} ON ${table} REFERENCING ${ref} ` +
      `FOR EACH STATEMENT EXECUTE FUNCTION report_rollup_${table}()`,
  );
}

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE report_day_rollups (
      location_id uuid NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
      day date NOT NULL,
      timezone text NOT NULL,
      data jsonb NOT NULL,
      snapshot pg_snapshot NOT NULL,
      built_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (location_id, day)
    )`);
  await knex.raw(
    "COMMENT ON COLUMN report_day_rollups.data IS 'the day''s report rows (api/report-rollups.ts), as of snapshot'",
  );
  await knex.raw(`
    CREATE TABLE report_day_touches (
      location_id uuid NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
      day date NOT NULL,
      xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
      at timestamptz NOT NULL DEFAULT now()
    )`);
  await knex.raw('CREATE INDEX report_day_touches_day ON report_day_touches (location_id, day)');
  await knex.raw(TOUCH);
  for (const sql of TIMEZONE) await knex.raw(sql);
  for (const table of Object.keys(INSTANTS)) {
    await knex.raw(triggerFunction(table));
    for (const sql of triggers(table)) await knex.raw(sql);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of Object.keys(INSTANTS)) {
    for (const op of ['insert', 'update', 'delete'])
      await knex.raw(`DROP TRIGGER IF EXISTS report_rollup_${table}_${op} ON ${table}`);
    await knex.raw(`DROP FUNCTION IF EXISTS report_rollup_${table}()`);
  }
  await knex.raw('DROP TRIGGER IF EXISTS report_rollup_timezone ON locations');
  await knex.raw('DROP FUNCTION IF EXISTS report_rollup_timezone()');
  await knex.raw('DROP FUNCTION IF EXISTS report_rollup_touch(uuid[], timestamptz[])');
  await knex.raw('DROP TABLE IF EXISTS report_day_touches');
  await knex.raw('DROP TABLE IF EXISTS report_day_rollups');
}
