/**
 * Customer search bench: `node -r @swc-node/register bench/customers-search.ts`.
 *
 * Brings the stack up as the tests do, adds BENCH_CUSTOMERS (default 100,000) customers to the
 * demo shop in one INSERT … SELECT, then times `GET /api/v1/customers?q=…` over HTTP for a few
 * typical queries (part of a name, of a phone number, of an e-mail) and prints each query's plan,
 * so it shows whether the trigram index (customers_search, migration 050) is used.
 * Informational: the exit code is 0 unless the stack failed.
 */
const COUNT = Number(process.env.BENCH_CUSTOMERS ?? 100_000);
const ROUNDS = 20;
const QUERIES = ['smith 4711', 'Hopper', '0712 34', '@example.org', 'zzz-no-match'];

async function main(): Promise<void> {
  const { default: globalSetup } = await import('../test/support/global-setup');
  const { default: globalTeardown } = await import('../test/support/global-teardown');
  const { startHarness } = await import('../test/support/harness');
  const { CUSTOMER_SEARCH_TEXT } = await import('../db/migrations/050_floor');
  await globalSetup();
  const h = await startHarness();
  try {
    const token = await h.login('3456');
    const t0 = Date.now();
    await h.deps.knex.raw(
      `INSERT INTO customers (location_id, name, phone, email)
       SELECT ?, (ARRAY['Smith','Hopper','Okafor','Mwangi','Garcia','Nguyen'])[1 + i % 6] || ' ' || i,
              '+2547' || lpad((i * 7919 % 100000000)::text, 8, '0'), 'guest' || i || '@example.' || (ARRAY['com','org','net'])[1 + i % 3]
       FROM generate_series(1, ?) AS i`,
      [h.shop.locationId, COUNT],
    );
    await h.deps.knex.raw('ANALYZE customers');
    console.log(`inserted ${COUNT} customers in ${Date.now() - t0} ms`);
    for (const q of QUERIES) {
      const times: number[] = [];
      let found = 0;
      for (let i = 0; i < ROUNDS; i++) {
        const start = process.hrtime.bigint();
        const res = await h.api('GET', `/api/v1/customers?q=${encodeURIComponent(q)}`, { token });
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
        found = res.body.length;
      }
      times.sort((a, b) => a - b);
      const plan = await h.deps.knex.raw(
        `EXPLAIN SELECT * FROM customers WHERE location_id = ? AND ${CUSTOMER_SEARCH_TEXT} LIKE ? ORDER BY name LIMIT 50`,
        [h.shop.locationId, `%${q.toLowerCase()}%`],
      );
      const usesIndex = plan.rows.some((r: any) => String(r['QUERY PLAN']).includes('customers_search'));
      console.log(
        `q=${JSON.stringify(q).padEnd(16)} results ${String(found).padStart(3)}  p50 ${times[ROUNDS >> 1]!.toFixed(1)} ms  max ${times[ROUNDS - 1]!.toFixed(1)} ms  trigram index ${usesIndex ? 'used' : 'NOT used'}`,
      );
    }
  } finally {
    await h.close();
    await globalTeardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
