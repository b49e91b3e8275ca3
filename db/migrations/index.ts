import type { Knex } from 'knex';
import * as foundation from './001_foundation';
import * as paymentCallbacks from './002_payment_callbacks';
import * as authSecurity from './003_auth_security';
import * as inventory from './004_inventory';
import * as devices from './005_devices';
import * as refunds from './006_refunds';
import * as receipts from './070_receipts';

/** Migrations in order, imported statically so they run the same from source (tests) and from dist/. */
const migrations: Record<string, Knex.Migration> = {
  '001_foundation': foundation,
  '002_payment_callbacks': paymentCallbacks,
  '003_auth_security': authSecurity,
  '004_inventory': inventory,
  '005_devices': devices,
  '006_refunds': refunds,
  '070_receipts': receipts,
};

export const migrationSource: Knex.MigrationSource<string> = {
  // Sorted by name, so the order never depends on how the entries above were merged.
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
