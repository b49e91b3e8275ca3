import type { Knex } from 'knex';

/**
 * A location's event-pricing schedule (core/pricing-schedule.ts): entries in local time that
 * override the `pricing` setting while they cover the moment a line is added. Validated by the
 * API (PUT /settings); an empty list leaves the setting alone.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE locations ADD COLUMN pricing_schedule jsonb NOT NULL DEFAULT '[]'::jsonb`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE locations DROP COLUMN IF EXISTS pricing_schedule');
}
