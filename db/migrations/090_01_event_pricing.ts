import type { Knex } from 'knex';

/**
 * Which price new cart lines use: the item's `price`, or during an event its `event_price`
 * (falling back to `price` for items without one). A check, not a native enum, so a later kind
 * is one constraint change.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE locations ADD COLUMN pricing text NOT NULL DEFAULT 'regular'
      CONSTRAINT locations_pricing_check CHECK (pricing IN ('regular', 'event'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE locations DROP COLUMN IF EXISTS pricing');
}
