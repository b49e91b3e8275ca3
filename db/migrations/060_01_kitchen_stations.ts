import type { Knex } from 'knex';

/**
 * Kitchen stations and printer failover: a kitchen printer may print only some categories'
 * lines (`category_ids`; null = every line no station takes), and any printer may name a backup
 * that takes its tickets once it stays unreachable. A removed backup simply ends the chain.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('printers', (t) => {
    t.specificType('category_ids', 'uuid[]').comment(
      'kitchen station: only these categories\u2019 lines (null: no filter)',
    );
    t.uuid('backup_printer_id')
      .references('printers.id')
      .onDelete('SET NULL')
      .comment('takes this printer\u2019s tickets when it stays unreachable');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('printers', (t) => {
    t.dropColumn('backup_printer_id');
    t.dropColumn('category_ids');
  });
}
