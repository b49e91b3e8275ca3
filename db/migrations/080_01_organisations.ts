import type { Knex } from 'knex';

/**
 * Organisations own locations; role `owner` (above admin) spans every location of its
 * organisation. Locations can be deactivated (their orders and reports stay). Existing locations
 * all join one organisation: until now one Tillflow was one business.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('organisations', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.alterTable('locations', (t) => {
    t.uuid('organisation_id').references('organisations.id').onDelete('RESTRICT').index();
    t.boolean('active').notNullable().defaultTo(true).comment('false: deactivated, its history stays');
  });
  await knex.raw(`
    WITH org AS (
      INSERT INTO organisations (name)
      SELECT coalesce((SELECT name FROM locations ORDER BY created_at, id LIMIT 1), 'My organisation')
      WHERE EXISTS (SELECT 1 FROM locations) RETURNING id
    )
    UPDATE locations SET organisation_id = (SELECT id FROM org)`);
  await knex.raw('ALTER TABLE locations ALTER COLUMN organisation_id SET NOT NULL');
  // A location created without one (single-business installs, first-admin setup) joins the oldest
  // organisation, created on first need: such installs never have to know organisations exist.
  await knex.raw(`
    CREATE FUNCTION tillflow_location_organisation() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.organisation_id IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('tillflow:default-organisation'));
        SELECT id INTO NEW.organisation_id FROM organisations ORDER BY created_at, id LIMIT 1;
        IF NEW.organisation_id IS NULL THEN
          INSERT INTO organisations (name) VALUES (NEW.name) RETURNING id INTO NEW.organisation_id;
        END IF;
      END IF;
      RETURN NEW;
    END $$`);
  await knex.raw(`
    CREATE TRIGGER locations_organisation BEFORE INSERT ON locations
    FOR EACH ROW EXECUTE FUNCTION tillflow_location_organisation()`);
  // The new enum value cannot be used in this transaction, and needs none of it.
  await knex.raw("ALTER TYPE staff_role ADD VALUE IF NOT EXISTS 'owner' BEFORE 'admin'");
}

/** Owners become admins of their home location (Postgres cannot drop an enum value: the type is rebuilt). */
export async function down(knex: Knex): Promise<void> {
  await knex.raw("UPDATE staff SET role = 'admin' WHERE role = 'owner'");
  await knex.raw('ALTER TYPE staff_role RENAME TO staff_role_with_owner');
  await knex.raw("CREATE TYPE staff_role AS ENUM ('admin', 'manager', 'cashier', 'kitchen')");
  await knex.raw('ALTER TABLE staff ALTER COLUMN role TYPE staff_role USING role::text::staff_role');
  await knex.raw('DROP TYPE staff_role_with_owner');
  await knex.raw('DROP TRIGGER IF EXISTS locations_organisation ON locations');
  await knex.raw('DROP FUNCTION IF EXISTS tillflow_location_organisation()');
  await knex.schema.alterTable('locations', (t) => t.dropColumns('organisation_id', 'active'));
  await knex.schema.dropTableIfExists('organisations');
}
