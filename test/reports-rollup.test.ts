import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { startHarness, Harness } from './support/harness';
import { postPayment } from './support/payments';
import { addDiscount, moveClosedAt, paymentParts, persisted } from './support/sales';
import { liveRangeReport, type ReportLocation } from '../api/reports';
import * as rollupMigration from '../db/migrations/110_01_report_rollups';

/**
 * Daily rollups (api/report-rollups.ts): days that have ended are read back from their rollup,
 * and the figures are exactly those of the live queries — with discounts, split payments, tips,
 * a voided line, a cancelled order and refunds — also after a late change to a rolled-up day.
 */

let h: Harness;
let manager: string;
let cashier: string;
const NY = 'America/New_York'; // the seeded location's timezone
const day = (ago: number) => DateTime.now().setZone(NY).minus({ days: ago });
const loc = (): ReportLocation => ({ locationId: h.shop.locationId, timezone: NY, currency: 'USD' });

beforeAll(async () => {
  h = await startHarness();
  manager = await h.login('2345');
  cashier = await h.login('3456');
});
afterAll(async () => h?.close());

/** Modifiers the seeded items require. */
const MODIFIERS: Record<string, string[]> = { Latte: ['Large', 'Oat milk'], Espresso: ['Regular'] };

async function line(token: string, id: string, item: string, quantity: number): Promise<any> {
  const res = await h.api('POST', `/api/v1/orders/${id}/lines`, {
    token,
    body: {
      itemId: h.shop.items[item],
      quantity,
      modifierIds: (MODIFIERS[item] ?? []).map((m) => h.shop.modifiers[m]),
    },
  });
  expect(res.status).toBe(200);
  return res.body;
}

/** A paid order of the given lines (and discount, tip, a voided line); returns its id once persisted. */
async function sale(
  token: string,
  items: [string, number][],
  opts: { discount?: string; tip?: number; voidLast?: boolean; split?: boolean } = {},
): Promise<string> {
  const id = (await h.api('POST', '/api/v1/orders', { token, body: { type: 'takeaway' } })).body.id as string;
  let snap: any;
  for (const [item, quantity] of items) snap = await line(token, id, item, quantity);
  if (opts.voidLast) {
    const last = snap.lines[snap.lines.length - 1];
    const res = await h.api('DELETE', `/api/v1/orders/${id}/lines/${last.id}?reason=dropped`, { token: manager });
    expect(res.status).toBe(200);
    snap = res.body;
  }
  if (opts.discount) snap = await addDiscount(h, token, id, opts.discount);
  const balance = snap.totals.balance as number;
  const parts = paymentParts(balance, opts.split);
  for (const [i, amount] of parts.entries()) {
    const tip = i === 0 ? (opts.tip ?? 0) : 0;
    const res = await postPayment(h, token, id, { method: 'cash', amount, tip, tendered: amount + tip + 100 });
    expect(res.status).toBe(201);
  }
  await persisted(h, id);
  return id;
}

async function refund(orderId: string, amount: number, settledAt: DateTime): Promise<void> {
  const res = await h.api('POST', `/api/v1/orders/${orderId}/refunds`, {
    token: manager,
    body: { reason: 'cold', amount },
    headers: { 'idempotency-key': randomUUID() },
  });
  expect(res.status).toBe(201);
  await h.deps.knex('refunds').where({ id: res.body.id }).update({ settled_at: settledAt.toUTC().toJSDate() });
}

const start = () => day(4).toISODate()!;
const end = () => day(0).toISODate()!;

/** The range report over HTTP (rollups) and the live queries' report, as JSON. */
async function both(): Promise<{ viaRollups: any; live: any }> {
  const res = await h.api('GET', `/api/v1/reports/range?start=${start()}&end=${end()}`, { token: manager });
  expect(res.status).toBe(200);
  const live = JSON.parse(JSON.stringify(await liveRangeReport(h.deps.knex, loc(), start(), end())));
  return { viaRollups: res.body, live };
}

const builtDays = async () =>
  (
    await h.deps
      .knex('report_day_rollups')
      .where({ location_id: h.shop.locationId })
      .whereNotNull('data')
      .select(h.deps.knex.raw("to_char(day, 'YYYY-MM-DD') as day"))
  )
    .map((r: any) => r.day)
    .sort();

describe('report rollups', () => {
  it('serves ended days from rollups with exactly the figures of the live queries', async () => {
    const a = await sale(cashier, [['Burger', 2]], { discount: 'Staff 10%', split: true });
    const b = await sale(manager, [['Latte', 1]], { tip: 50 });
    const c = await sale(
      cashier,
      [
        ['Espresso', 3],
        ['Croissant', 2],
        ['Burger', 1],
      ],
      { voidLast: true },
    );
    const cancelled = (await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } })).body.id;
    await line(cashier, cancelled, 'Burger', 4);
    await h.api('POST', `/api/v1/orders/${cancelled}/cancel`, { token: cashier, body: { reason: 'left' } });
    await persisted(h, cancelled);
    await moveClosedAt(h, a, day(3).set({ hour: 10 }));
    await moveClosedAt(h, b, day(2).set({ hour: 20 }));
    await moveClosedAt(h, cancelled, day(2).set({ hour: 21 }));
    await refund(b, 300, day(1).set({ hour: 9 }));
    await refund(c, 200, day(0));

    const first = await both(); // builds the ended days' rollups
    const ended = [4, 3, 2, 1].filter((d) => day(d).endOf('day') < DateTime.now());
    expect(await builtDays()).toEqual(ended.map((d) => day(d).toISODate()));
    const second = await both(); // reads them back
    expect(second.viaRollups).toEqual(second.live);
    expect(first.viaRollups).toEqual(first.live);
    expect(second.live.total).toMatchObject({ orders: 3, tips: 50, refunds: 500 });
    expect(second.live.days.map((d: any) => d.orders)).toEqual([0, 1, 1, 0, 1]);
  });

  it('counts a late change to a rolled-up day (an order moved into it, a refund settled on it)', async () => {
    const before = await both();
    const late = await sale(manager, [['Croissant', 3]]);
    await moveClosedAt(h, late, day(1).set({ hour: 12 }));
    const [paid] = await h.deps.knex('orders').where({ id: late }).pluck('id');
    await refund(paid, 100, day(3).set({ hour: 11 }));
    const after = await both();
    expect(after.viaRollups).toEqual(after.live);
    expect(after.live.days[3].orders).toBe(before.live.days[3].orders + 1);
    expect(after.live.days[1].refunds).toBe(before.live.days[1].refunds + 100);
  });

  it('shows the current name of an item renamed after its day was rolled up', async () => {
    await both();
    await h.deps.knex('items').where({ id: h.shop.items['Latte'] }).update({ name: 'Latte grande' });
    const { viaRollups, live } = await both();
    expect(viaRollups).toEqual(live);
    expect(viaRollups.days[2].topItems).toEqual([expect.objectContaining({ name: 'Latte grande' })]);
  });
});

describe('touches', () => {
  it('a build deletes the touches of days without a rollup once they are an hour old', async () => {
    const knex = h.deps.knex;
    const touch = (day: string, at: Date) => ({ location_id: h.shop.locationId, day, at });
    await knex('report_day_touches').insert([
      touch('2020-01-01', new Date(Date.now() - 2 * 3600_000)),
      touch('2020-01-02', new Date()),
    ]);
    await knex('report_day_rollups').where({ location_id: h.shop.locationId }).delete(); // the next report builds
    expect((await both()).viaRollups).toEqual((await both()).live);
    const left = await knex('report_day_touches')
      .where({ location_id: h.shop.locationId })
      .whereIn('day', ['2020-01-01', '2020-01-02'])
      .select(knex.raw("to_char(day, 'YYYY-MM-DD') as day"));
    expect(left.map((r: any) => r.day)).toEqual(['2020-01-02']);
  });
});

describe('migration 110_01_report_rollups', () => {
  it('goes down (tables, triggers and functions gone) and up again', async () => {
    const knex = h.deps.knex;
    const triggers = async () =>
      (await knex.raw("select count(*)::int as n from pg_trigger where tgname like 'report_rollup_%'")).rows[0].n;
    await rollupMigration.down(knex);
    expect(await knex.schema.hasTable('report_day_rollups')).toBe(false);
    expect(await knex.schema.hasTable('report_day_touches')).toBe(false);
    expect(await triggers()).toBe(0);
    await rollupMigration.up(knex);
    expect(await triggers()).toBe(13);
    const res = await h.api('GET', `/api/v1/reports/range?start=${start()}&end=${end()}`, { token: manager });
    expect(res.status).toBe(200);
  });
});
