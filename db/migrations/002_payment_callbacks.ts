import type { Knex } from 'knex';

/**
 * M-Pesa has no idempotency key: `push_attempted_at` is written before an STK push is sent, so a
 * retried initiate that finds it (and no stored reference) knows a push may already be on the
 * customer's phone and waits for its callback instead of prompting again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.timestamp('push_attempted_at', { useTz: true }).comment(
      'set before a push to a gateway without idempotency keys (M-Pesa)',
    );
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumn('push_attempted_at');
  });
}
