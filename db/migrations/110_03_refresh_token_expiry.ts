import type { Knex } from 'knex';

/**
 * Each login sweeps expired refresh tokens of any session (api/refresh-tokens.ts): an index on
 * their expiry lets it find them without reading every row.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS refresh_tokens_expires_at ON refresh_tokens (expires_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS refresh_tokens_expires_at');
}
