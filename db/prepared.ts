import { createHash } from 'node:crypto';
import type { Knex } from 'knex';

/**
 * Marks a query that runs on every cart change or close: Postgres parses and plans it once per
 * connection instead of on every call (a named prepared statement, named after its text, so one
 * name is always one text). Only for statements of a few fixed shapes whose result columns are
 * named (a cached plan of `returning *` fails once a migration adds a column): each shape stays
 * prepared on each pooled connection until the connection closes.
 */
export function prepared<Q extends Knex.QueryBuilder | Knex.Raw>(query: Q): Q {
  return query.options({ prepare: true }) as Q;
}

interface CompiledQuery {
  sql: string;
  options?: Record<string, unknown>;
}

interface PgDialect {
  _query(connection: unknown, obj: CompiledQuery): Promise<unknown>;
}

// knex ships no types for its dialect classes; this is the one it loads for `client: 'pg'`.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ClientPg: new (config: Knex.Config) => PgDialect = require('knex/lib/dialects/postgres');

/**
 * knex's pg dialect, naming the statements `prepared()` marked. `enabled: false` sends them
 * unnamed, for a connection pooler that cannot keep prepared statements (PgBouncer in
 * transaction mode before 1.21).
 */
export function preparingClient(enabled: boolean): typeof Knex.Client {
  class PreparingClient extends ClientPg {
    override _query(connection: unknown, obj: CompiledQuery) {
      if (obj.options?.prepare !== undefined) {
        const { prepare: _prepare, ...options } = obj.options;
        const name = `tf_${createHash('sha1').update(obj.sql).digest('hex').slice(0, 24)}`;
        obj.options = enabled ? { ...options, name } : options;
      }
      return super._query(connection, obj);
    }
  }
  return PreparingClient as unknown as typeof Knex.Client;
}
