import type { Knex } from 'knex';
import { createKnex } from '../db/knex';
import { prepared } from '../db/prepared';
import { createTestDatabase } from './support/database';
import { ConfigError, loadConfig } from '../platform/config';

/**
 * The statements of every cart change and close are named prepared statements (db/prepared.ts):
 * Postgres parses and plans each once per connection. One connection per pool here, so
 * pg_prepared_statements shows what that connection holds.
 */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
const pools: Knex[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.destroy()));
  await db?.drop();
});

function pool(options?: { preparedStatements: boolean }): Knex {
  const knex = createKnex(db.url, { min: 1, max: 1 }, options);
  pools.push(knex);
  return knex;
}

async function preparedOn(knex: Knex): Promise<Array<{ name: string; statement: string }>> {
  const { rows } = await knex.raw(`select name, statement from pg_prepared_statements order by name`);
  return rows;
}

const sum = (knex: Knex, a: number, b: number) => prepared(knex.raw('select ?::int + ?::int as n', [a, b]));

test('prepares a marked statement once per connection and answers each call with its own values', async () => {
  const knex = pool();
  const answers = [(await sum(knex, 1, 2)).rows[0].n, (await sum(knex, 40, 2)).rows[0].n];
  expect(answers).toEqual([3, 42]);
  expect(await preparedOn(knex)).toEqual([
    { name: expect.stringMatching(/^tf_[0-9a-f]{24}$/), statement: 'select $1::int + $2::int as n' },
  ]);
});

test('gives statements of different text different names', async () => {
  const knex = pool();
  await sum(knex, 1, 2);
  await prepared(knex('locations').where('id', '00000000-0000-0000-0000-000000000000').select('id'));
  const names = (await preparedOn(knex)).map((s) => s.name);
  expect(new Set(names).size).toBe(2);
});

test('leaves unmarked queries unprepared', async () => {
  const knex = pool();
  await knex.raw('select ?::int as n', [1]);
  await knex('locations').select('id').limit(1);
  expect(await preparedOn(knex)).toEqual([]);
});

test('sends marked statements unnamed when prepared statements are turned off (a pooler that cannot keep them)', async () => {
  const knex = pool({ preparedStatements: false });
  expect((await sum(knex, 2, 3)).rows[0].n).toBe(5);
  expect(await preparedOn(knex)).toEqual([]);
});

describe('TILLFLOW_PG_PREPARED_STATEMENTS', () => {
  const config = (value?: string) =>
    loadConfig({ TILLFLOW_TOKEN_SECRET: 'x'.repeat(40), TILLFLOW_PG_PREPARED_STATEMENTS: value });

  test('is on unless set', () => {
    expect(config().pgPreparedStatements).toBe(true);
  });

  test('false turns it off', () => {
    expect(config('false').pgPreparedStatements).toBe(false);
  });

  test('refuses anything but true or false', () => {
    expect(() => config('off')).toThrow(ConfigError);
  });
});
