import type { Knex } from 'knex';

/** Postgres channel on which a revoked session's (or device's) id is announced to every API replica. */
export const REVOCATIONS_CHANNEL = 'tillflow_revocations';

/**
 * Device tokens (customer displays) and revocation notices. Whoever revokes a session — logout,
 * a staff change, an operator with psql — the trigger announces its id, so every API replica
 * closes that session's sockets; deleting the row counts as revoking it. Devices do the same.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('devices', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('location_id').notNullable().references('locations.id').onDelete('CASCADE').index();
    t.text('kind').notNullable().checkIn(['display'], 'devices_kind_check');
    t.text('name').notNullable();
    t.text('terminal_id').comment('display: the terminal whose customer display this is');
    t.text('token_hash').notNullable().unique().comment('SHA-256 of the device token, which is shown once');
    t.uuid('created_by').references('staff.id').onDelete('SET NULL');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('revoked_at', { useTz: true });
  });
  await knex.raw(
    'CREATE UNIQUE INDEX devices_one_live_display ON devices (location_id, terminal_id) WHERE revoked_at IS NULL',
  );

  await knex.raw(`
    CREATE FUNCTION tillflow_notify_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('${REVOCATIONS_CHANNEL}', OLD.id::text);
        RETURN OLD;
      END IF;
      PERFORM pg_notify('${REVOCATIONS_CHANNEL}', NEW.id::text);
      RETURN NEW;
    END $$`);
  for (const table of ['sessions', 'devices']) {
    await knex.raw(`
      CREATE TRIGGER ${table}_revoked AFTER UPDATE OF revoked_at ON ${table} FOR EACH ROW
      WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION tillflow_notify_revoked()`);
    await knex.raw(
      `CREATE TRIGGER ${table}_deleted AFTER DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION tillflow_notify_revoked()`,
    );
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['sessions', 'devices']) {
    await knex.raw(`DROP TRIGGER IF EXISTS ${table}_revoked ON ${table}`);
    await knex.raw(`DROP TRIGGER IF EXISTS ${table}_deleted ON ${table}`);
  }
  await knex.raw('DROP FUNCTION IF EXISTS tillflow_notify_revoked()');
  await knex.schema.dropTableIfExists('devices');
}
