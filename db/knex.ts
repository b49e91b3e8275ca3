import knexFactory, { Knex } from 'knex';
import { Model } from 'objection';
import { migrationSource } from './migrations';
import { preparingClient } from './prepared';

export function createKnex(
  databaseUrl: string,
  pool: { min: number; max: number } = { min: 0, max: 10 },
  { preparedStatements = true } = {},
): Knex {
  return knexFactory({ client: preparingClient(preparedStatements), connection: databaseUrl, pool });
}

/** Binds objection models to this knex instance (one database per process). */
export function bindModels(knex: Knex): void {
  Model.knex(knex);
}

export async function migrateLatest(knex: Knex): Promise<void> {
  await knex.migrate.latest({ migrationSource });
}

export async function migrateDown(knex: Knex): Promise<void> {
  await knex.migrate.rollback({ migrationSource }, true);
}
