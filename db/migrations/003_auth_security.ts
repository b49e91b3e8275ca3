import type { Knex } from 'knex';

/**
 * PIN attempts counted per location as well as per client, the slow-down queue a location enters
 * once too many wrong PINs arrive, and the shared counters of the general rate limiter.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('login_failures', (t) => {
    t.text('location_key').comment('locationId sent with the PIN, or * when none was sent');
    t.index(['location_key', 'at']);
  });
  await knex.schema.createTable('pin_throttle', (t) => {
    t.text('location_key').primary();
    t.timestamp('next_at', { useTz: true }).notNullable().comment('the next slowed PIN check may start at this time');
  });
  // The layout rate-limiter-flexible's RateLimiterPostgres expects (created here, not by the library at run time).
  await knex.schema.createTable('rate_limits', (t) => {
    t.string('key', 255).primary();
    t.integer('points').notNullable().defaultTo(0);
    t.bigInteger('expire');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('rate_limits');
  await knex.schema.dropTableIfExists('pin_throttle');
  await knex.schema.alterTable('login_failures', (t) => {
    t.dropIndex(['location_key', 'at']);
    t.dropColumn('location_key');
  });
}
