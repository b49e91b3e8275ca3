import type { Knex } from 'knex';

/**
 * API replicas cache resolved tokens (api/session-cache.ts) and drop one when its session's id is
 * announced on the revocations channel. Shortening a session's life (an operator ending it with
 * psql, `expires_at` moved into the past) must reach them the same way as revoking it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TRIGGER sessions_shortened AFTER UPDATE OF expires_at ON sessions FOR EACH ROW
    WHEN (NEW.expires_at < OLD.expires_at) EXECUTE FUNCTION tillflow_notify_revoked()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER IF EXISTS sessions_shortened ON sessions');
}
