import type { Knex } from 'knex';

/**
 * Refunds get a writer: the refund row (created by POST …/refunds, which reserves the amount under
 * a row lock on the payment) carries what the refund workflow needs and what the API returns.
 * payments.refunded is the sum of its succeeded refunds.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('refunds', (t) => {
    t.text('method');
    t.text('provider');
    t.jsonb('lines').notNullable().defaultTo('[]').comment('[{lineId, quantity, amount}] for refunds by line');
    t.boolean('restock').notNullable().defaultTo(false);
    t.integer('net').notNullable().defaultTo(0);
    t.integer('service_charge').notNullable().defaultTo(0);
    t.integer('tax').notNullable().defaultTo(0);
    t.text('reference').comment("the gateway's refund id");
    t.text('failure_reason');
    t.text('idempotency_key');
    t.text('workflow_id');
    t.text('result_token').unique().comment('per-refund token of asynchronous gateway results (M-Pesa ResultURL)');
    t.timestamp('updated_at', { useTz: true });
    t.index(['payment_id']);
    t.index(['location_id', 'settled_at']);
  });
  await knex.schema.alterTable('payments', (t) => {
    t.integer('refunded').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => t.dropColumn('refunded'));
  await knex.schema.alterTable('refunds', (t) => {
    t.dropIndex(['payment_id']);
    t.dropIndex(['location_id', 'settled_at']);
    for (const c of [
      'method',
      'provider',
      'lines',
      'restock',
      'net',
      'service_charge',
      'tax',
      'reference',
      'failure_reason',
      'idempotency_key',
      'workflow_id',
      'result_token',
      'updated_at',
    ])
      t.dropColumn(c);
  });
}
