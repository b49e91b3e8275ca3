/**
 * `node dist/bin/create-admin.js --name "Alex" [--location "Corner Café"]`: creates the first admin
 * of a database that has no staff (an external DATABASE_URL gets no demo shop) and prints their
 * PIN once. Uses the same DATABASE_URL and TILLFLOW_TOKEN_SECRET (or data dir) as the server.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../platform/config';
import { createKnex, migrateLatest } from '../db/knex';
import { createFirstAdmin, FirstAdminError } from '../db/seed';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { name: { type: 'string' }, location: { type: 'string' } } });
  const config = loadConfig();
  if (!config.databaseUrl)
    throw new ConfigError(
      'Set DATABASE_URL to the database Tillflow uses (the embedded one gets the demo shop instead).',
    );
  if (!values.name?.trim()) throw new ConfigError('Give the admin a name: --name "Alex"');
  const knex = createKnex(config.databaseUrl, { min: 0, max: 2 });
  try {
    await migrateLatest(knex);
    const admin = await createFirstAdmin(knex, config.tokenSecret, {
      name: values.name.trim(),
      locationName: values.location?.trim() || undefined,
    });
    process.stdout.write(
      `Created admin "${values.name.trim()}" (location ${admin.locationId}).\nPIN: ${admin.pin}\nIt is shown only now; log in and change it with PATCH /api/v1/staff/${admin.staffId} if you like.\n`,
    );
  } finally {
    await knex.destroy();
  }
}

main().catch((err: unknown) => {
  const known = err instanceof ConfigError || err instanceof FirstAdminError;
  process.stderr.write(`create-admin: ${known ? (err as Error).message : String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
