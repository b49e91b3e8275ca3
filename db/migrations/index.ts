import type { Knex } from 'knex';
import * as foundation from './001_foundation';
import * as authSecurity from './003_auth_security';

/** Migrations in order, imported statically so they run the same from source (tests) and from dist/. */
const migrations: Record<string, Knex.Migration> = {
  '001_foundation': foundation,
  '003_auth_security': authSecurity,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
