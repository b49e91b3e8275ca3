import type { Knex } from 'knex';

/**
 * Kitchen screens as devices: a screen is a `devices` row of kind `kitchen_screen` with its own
 * token (hashed like a display's), the categories whose lines it shows (null: every line no
 * screen takes) and the address it was found at (`/devices/discover`), for the manager's list.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE devices DROP CONSTRAINT devices_kind_check');
  await knex.raw("ALTER TABLE devices ADD CONSTRAINT devices_kind_check CHECK (kind IN ('display', 'kitchen_screen'))");
  await knex.schema.alterTable('devices', (t) => {
    t.specificType('category_ids', 'uuid[]').comment(
      'kitchen screen: only these categories\u2019 lines (null: no filter)',
    );
    t.text('address').comment('kitchen screen: where it was found (e.g. http://host:port)');
    t.timestamp('updated_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex('devices').where({ kind: 'kitchen_screen' }).delete();
  await knex.schema.alterTable('devices', (t) => {
    t.dropColumn('updated_at');
    t.dropColumn('address');
    t.dropColumn('category_ids');
  });
  await knex.raw('ALTER TABLE devices DROP CONSTRAINT devices_kind_check');
  await knex.raw("ALTER TABLE devices ADD CONSTRAINT devices_kind_check CHECK (kind IN ('display'))");
}
