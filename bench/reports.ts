/**
 * Report latency bench: `npm run bench:reports`.
 *
 * Brings the stack up as the test suite does (embedded Postgres, Temporal dev server, the API over
 * HTTP), seeds BENCH_ORDERS closed orders (default 100,000; two lines and one cash payment each,
 * spread evenly over the 365 local days before today, with refunds on every 50th) straight into
 * Postgres, runs ANALYZE, then times over HTTP as a manager, BENCH_RUNS times each (after one
 * warm-up): the daily report of a busy day, the 31-day range, the 31-day item and staff reports,
 * and the daily report as CSV. Targets: daily < 200 ms, 31-day range < 1 s (p50, informational:
 * the exit code is 0 unless the stack failed). The first call of each is printed apart: it builds
 * the rollups of the ended days it reads (api/report-rollups.ts), the later ones read them back.
 */
import type { Harness } from '../test/support/harness';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const DAYS = 365;

/** Inserts the orders, their lines, payments and some refunds in a few set-based statements. */
export async function seed(h: Pick<Harness, 'deps' | 'shop'>): Promise<void> {
  const { knex, shop } = { knex: h.deps.knex, shop: h.shop };
  const items = Object.values(shop.items);
  const staff = [shop.staff['Cashier'], shop.staff['Manager']];
  const params = { loc: shop.locationId, n: ORDERS, days: DAYS, items, staff };
  // Order i closes on day (i mod DAYS) before today, between 07:00 and 21:00 local time.
  await knex.raw(
    `insert into orders (id, location_id, order_number, status, kitchen_status, type, staff_id, currency,
                         subtotal, discount, tax, total, paid, version, snapshot, created_at, updated_at, closed_at, persisted_at)
     select gen_random_uuid(), :loc, 1 + i % 99, 'closed', 'ready', 'takeaway', (:staff::uuid[])[1 + i % 2], 'USD',
            1500, case when i % 10 = 0 then 150 else 0 end, 110, 1460, 1460, 5, '{}'::jsonb, t, t, t, t
       from generate_series(1, :n) as i,
            lateral (select ((now() at time zone 'America/New_York')::date - (1 + i % :days) + time '07:00'
                             + make_interval(mins => (i * 7) % 840)) at time zone 'America/New_York' as t) c`,
    params,
  );
  await knex.raw(
    `insert into order_lines (id, location_id, order_id, item_id, name, quantity, unit_price, total, position)
     select gen_random_uuid(), o.location_id, o.id, (:items::uuid[])[1 + (abs(hashtext(o.id::text)) + p) % :k], 'item', 1 + p, 500, 500 * (1 + p), p
       from orders o, generate_series(0, 1) as p where o.location_id = :loc`,
    { ...params, k: items.length },
  );
  await knex.raw(
    `insert into payments (id, location_id, order_id, seq, method, status, amount, created_at, settled_at)
     select gen_random_uuid(), o.location_id, o.id, 1, 'cash', 'succeeded', o.total, o.closed_at, o.closed_at from orders o where o.location_id = :loc`,
    params,
  );
  await knex.raw(
    `insert into refunds (id, location_id, order_id, payment_id, method, amount, status, reason, created_at, settled_at)
     select gen_random_uuid(), p.location_id, p.order_id, p.id, 'cash', 200, 'succeeded', 'bench', p.settled_at, p.settled_at
       from payments p where p.location_id = :loc and abs(hashtext(p.id::text)) % 50 = 0`,
    params,
  );
  await knex.raw('analyze');
}

/** The first call's time (it builds the rollups of the days it reads) and the sorted times of the others. */
async function time(
  h: Harness,
  token: string,
  path: string,
  accept = 'application/json',
): Promise<{ cold: number; samples: number[] }> {
  const samples: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const res = await fetch(h.baseUrl + path, { headers: { authorization: `Bearer ${token}`, accept } });
    await res.text();
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const [cold, ...rest] = samples;
  return { cold: cold!, samples: rest.sort((a, b) => a - b) };
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;

async function main(): Promise<number> {
  process.env.NODE_ENV = 'test';
  const { default: globalSetup } = await import('../test/support/global-setup');
  const { default: globalTeardown } = await import('../test/support/global-teardown');
  const { startHarness } = await import('../test/support/harness');
  const { DateTime } = await import('luxon');
  let h: Harness | undefined;
  let failed = false;
  try {
    await globalSetup();
    h = await startHarness({ printingWorker: false });
    const t0 = Date.now();
    await seed(h);
    console.log(`seeded ${ORDERS} closed orders over ${DAYS} days in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const token = await h.login('2345');
    const yesterday = DateTime.now().setZone('America/New_York').minus({ days: 1 });
    const day = yesterday.toISODate()!;
    const start = yesterday.minus({ days: 30 }).toISODate()!;
    const cases: [string, string, number | undefined, string?][] = [
      ['daily', `/api/v1/reports/daily?date=${day}`, 200],
      ['range 31 days', `/api/v1/reports/range?start=${start}&end=${day}`, 1000],
      ['items 31 days', `/api/v1/reports/items?start=${start}&end=${day}`, undefined],
      ['staff 31 days', `/api/v1/reports/staff?start=${start}&end=${day}`, undefined],
      ['daily as CSV', `/api/v1/reports/daily?date=${day}`, 200, 'text/csv'],
    ];
    for (const [name, path, target, accept] of cases) {
      const { cold, samples: s } = await time(h, token, path, accept);
      const verdict =
        target === undefined
          ? ''
          : pct(s, 50) < target
            ? `  target < ${target} ms PASS`
            : `  target < ${target} ms MISS`;
      console.log(
        `${name.padEnd(14)} first ${cold.toFixed(1)} ms  p50 ${pct(s, 50).toFixed(1)} ms  p95 ${pct(s, 95).toFixed(1)} ms  max ${s[s.length - 1]!.toFixed(1)} ms${verdict}`,
      );
    }
  } catch (err) {
    failed = true;
    console.error('[bench] failed:', err);
  } finally {
    await h?.close().catch((err) => ((failed = true), console.error(err)));
    await globalTeardown().catch((err) => ((failed = true), console.error(err)));
  }
  return failed ? 1 : 0;
}

if (require.main === module) void main().then((code) => process.exit(code));
