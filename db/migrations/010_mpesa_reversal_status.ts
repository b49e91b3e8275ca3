import type { Knex } from 'knex';

/**
 * M-Pesa reversals are answered only at a ResultURL; when no result arrives, a Transaction Status
 * request (by the reversal's OriginatorConversationID, itself answered at a ResultURL) says how it
 * ended. Refunds keep that id beside their reference (the ConversationID); an automatic reversal
 * of a late payment success gets the same fields on its payment, with its own result token.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('refunds', (t) => {
    t.text('status_reference').comment(
      "the gateway's id to ask a refund's status by (M-Pesa: the reversal's OriginatorConversationID)",
    );
  });
  await knex.schema.alterTable('payments', (t) => {
    t.text('reversal_token').unique().comment('per-payment token of the automatic reversal ResultURL');
    t.text('reversal_reference').comment("the automatic reversal's ConversationID");
    t.text('reversal_status_reference').comment("the automatic reversal's OriginatorConversationID");
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    for (const c of ['reversal_token', 'reversal_reference', 'reversal_status_reference']) t.dropColumn(c);
  });
  await knex.schema.alterTable('refunds', (t) => t.dropColumn('status_reference'));
}
