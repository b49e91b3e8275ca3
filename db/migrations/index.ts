import type { Knex } from 'knex';
import * as foundation from './001_foundation';
import * as paymentCallbacks from './002_payment_callbacks';

/** Migrations in order, imported statically so they run the same from source (tests) and from dist/. */
const migrations: Record<string, Knex.Migration> = {
  '001_foundation': foundation,
  '002_payment_callbacks': paymentCallbacks,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
