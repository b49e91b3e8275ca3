import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { createKnex } from '../../db/knex';

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + database;
  return u.toString();
}

/** A database of its own for one test file, cloned from the migrated template (fast, isolated). */
export async function createTestDatabase(): Promise<{ url: string; knex: Knex; drop(): Promise<void> }> {
  const base = process.env.TILLFLOW_TEST_PG_URL!;
  const name = 't_' + randomUUID().replace(/-/g, '').slice(0, 16);
  const admin = createKnex(base, { min: 0, max: 1 });
  await admin.raw(`CREATE DATABASE ${name} TEMPLATE tillflow_template`);
  const url = withDatabase(base, name);
  // As the launcher's config reads it, so a bench can measure the hot path without prepared statements.
  const knex = createKnex(
    url,
    { min: 0, max: 10 },
    {
      preparedStatements: process.env.TILLFLOW_PG_PREPARED_STATEMENTS !== 'false',
    },
  );
  return {
    url,
    knex,
    drop: async () => {
      await knex.destroy();
      await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.destroy();
    },
  };
}
