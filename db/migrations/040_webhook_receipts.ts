import type { Knex } from 'knex';

/**
 * Every webhook or gateway callback the API receives, kept so reconciliation never needs the logs:
 * when, from which gateway and address, whether its signature (or URL token) checked out, a digest
 * of the exact body, the payment it concerns (when it could be told) and what the API did with it.
 * Bodies themselves are not kept (they carry phone numbers and card details); the digest lets a
 * gateway's own copy be matched against the row.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_receipts', (t) => {
    t.bigIncrements('id');
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('gateway').notNullable();
    t.text('source_ip');
    t.uuid('location_id').references('locations.id').onDelete('CASCADE');
    t.uuid('payment_id').comment(
      'null when the callback could not be tied to a payment (bad signature, unknown reference)',
    );
    t.boolean('verified')
      .notNullable()
      .comment('signature valid (Stripe, Square) or URL token of a payment/portal matched (M-Pesa, Airtel)');
    t.text('body_sha256').notNullable();
    t.integer('body_bytes').notNullable();
    t.text('event_id');
    t.text('reported_status').comment("what the gateway said: the event's status");
    t.text('payment_status_before').comment("the payment's status in Postgres when the callback arrived");
    t.text('effect')
      .notNullable()
      .comment('delivered | duplicate | late | ignored | rejected | malformed | unknown_payment | error');
    t.text('detail');
    t.integer('http_status').notNullable();
    t.index(['payment_id', 'received_at']);
    t.index(['received_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhook_receipts');
}
