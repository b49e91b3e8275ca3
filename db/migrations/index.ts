import type { Knex } from 'knex';
import * as foundation from './001_foundation';
import * as refunds from './006_refunds';

/** Migrations in order, imported statically so they run the same from source (tests) and from dist/. */
const migrations: Record<string, Knex.Migration> = {
  '001_foundation': foundation,
  '006_refunds': refunds,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
