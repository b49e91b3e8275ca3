import type { Knex } from 'knex';

/**
 * Rotating refresh tokens of staff sessions. Only a SHA-256 of each token is kept (256 random
 * bits need no slow hash). A refresh marks its token used and issues the next one; a used token
 * presented again means it was copied, so the whole session is revoked (reuse detection). Rows go
 * with their session.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('refresh_tokens', (t) => {
    t.text('token_hash').primary();
    t.uuid('session_id').notNullable().references('sessions.id').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true }).comment(
      'rotated: exchanged for the next token; presenting it again revokes the session',
    );
    t.index(['session_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('refresh_tokens');
}
