import type { Knex } from 'knex';

/**
 * M-Pesa reversal and Transaction Status results for refunds are stored with the other callbacks
 * (webhook_receipts), tied to their refund, so a refund's reconciliation needs no logs either.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_receipts', (t) => {
    t.uuid('refund_id').comment('the refund a reversal or status result concerns (null for payment callbacks)');
    t.index(['refund_id', 'received_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_receipts', (t) => {
    t.dropIndex(['refund_id', 'received_at']);
    t.dropColumn('refund_id');
  });
}
