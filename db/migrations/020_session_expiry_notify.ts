import type { Knex } from 'knex';

/**
 * API replicas cache resolved tokens (api/session-cache.ts) and drop one when its session's id is
 * announced on the revocations channel. Ending a session by moving `expires_at` into the past (an
 * operator with psql) must reach them the same way as revoking it. A shortened life that still
 * lies ahead is not announced: sockets keep their own expiry timer, and announcing it would close
 * them as revoked at once instead.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TRIGGER sessions_shortened AFTER UPDATE OF expires_at ON sessions FOR EACH ROW
    WHEN (NEW.expires_at < OLD.expires_at AND NEW.expires_at <= now()) EXECUTE FUNCTION tillflow_notify_revoked()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER IF EXISTS sessions_shortened ON sessions');
}
