import { DateTime } from 'luxon';
import { startHarness, Harness } from './support/harness';
import { closedSale, REPORT_SUMMARY_FIELDS } from './support/sales';
import { parseCsv, records, tables } from './support/csv';

/**
 * byCategory, topItems and byHour of the daily and range reports, the item report, the staff
 * report and every report as CSV, over sales moved to fixed local times of the seeded shop
 * (America/New_York).
 */
let h: Harness;
let manager: string;
let cashier: string;
const NY = 'America/New_York';
const at = (iso: string) => DateTime.fromISO(iso, { zone: NY });

beforeAll(async () => {
  h = await startHarness({ printingWorker: false });
  manager = await h.login('2345');
  cashier = await h.login('3456');
  // 10 March: 2 burgers with cheese (2500) + a croissant (325) less 10 % (283): the discount splits 250 / 33.
  await closedSale(
    h,
    cashier,
    [
      { item: 'Burger', quantity: 2, modifiers: ['Extra cheese'] },
      { item: 'Croissant', quantity: 1 },
    ],
    {
      discount: 'Staff 10%',
      closedAt: at('2025-03-10T09:15'),
    },
  );
  await closedSale(h, manager, [{ item: 'Espresso', quantity: 3, modifiers: ['Regular'] }], {
    closedAt: at('2025-03-10T14:05'),
  });
  await closedSale(h, cashier, [{ item: 'Latte', quantity: 1, modifiers: ['Large'] }], {
    closedAt: at('2025-03-10T14:40'),
  });
  // 11 March: two croissants.
  await closedSale(h, cashier, [{ item: 'Croissant', quantity: 2 }], { closedAt: at('2025-03-11T10:00') });
});
afterAll(async () => h?.close());

const item = (name: string, quantity: number, net: number) => ({ itemId: h.shop.items[name], name, quantity, net });
const category = (name: string, quantity: number, net: number) => ({
  categoryId: h.shop.categories[name],
  name,
  quantity,
  net,
});

it('breaks a day down by category, item and local hour, with line nets sharing the order discount', async () => {
  const res = await h.api('GET', '/api/v1/reports/daily?date=2025-03-10', { token: manager });
  expect(res.status).toBe(200);
  expect(res.body.net).toBe(2542 + 900 + 530);
  expect(res.body.byCategory).toEqual([category('Food', 3, 2542), category('Coffee', 4, 1430)]);
  expect(res.body.topItems).toEqual([
    item('Burger', 2, 2250),
    item('Espresso', 3, 900),
    item('Latte', 1, 530),
    item('Croissant', 1, 292),
  ]);
  expect(res.body.byHour).toEqual([
    { hour: 9, orders: 1, net: 2542 },
    { hour: 14, orders: 2, net: 1430 },
  ]);
});

it('merges the breakdowns of a range in its total', async () => {
  const res = await h.api('GET', '/api/v1/reports/range?start=2025-03-10&end=2025-03-11', { token: manager });
  expect(res.status).toBe(200);
  expect(res.body.days[1].topItems).toEqual([item('Croissant', 2, 650)]);
  expect(res.body.total.byCategory).toEqual([category('Food', 5, 3192), category('Coffee', 4, 1430)]);
  expect(res.body.total.topItems).toEqual([
    item('Burger', 2, 2250),
    item('Croissant', 3, 942),
    item('Espresso', 3, 900),
    item('Latte', 1, 530),
  ]);
  expect(res.body.total.byHour).toEqual([
    { hour: 9, orders: 1, net: 2542 },
    { hour: 10, orders: 1, net: 650 },
    { hour: 14, orders: 2, net: 1430 },
  ]);
});

it('reports per item quantity, net, cost and margin (null for an item without a cost)', async () => {
  await h.deps.knex('items').where({ id: h.shop.items['Latte'] }).update({ cost: null });
  const res = await h.api('GET', '/api/v1/reports/items?start=2025-03-10&end=2025-03-11', { token: manager });
  expect(res.status).toBe(200);
  // Seeded costs are 30 % of the price: Burger 345, Croissant 98, Espresso 90.
  expect(res.body).toEqual({
    start: '2025-03-10',
    end: '2025-03-11',
    currency: 'USD',
    items: [
      { ...item('Burger', 2, 2250), cost: 690, margin: 1560 },
      { ...item('Croissant', 3, 942), cost: 294, margin: 648 },
      { ...item('Espresso', 3, 900), cost: 270, margin: 630 },
      { ...item('Latte', 1, 530), cost: null, margin: null },
    ],
    total: { quantity: 9, net: 4622, cost: 1254, margin: 2838 },
  });
});

it('reports per staff member orders, net, tips, worked hours from the timeclock and net per hour', async () => {
  const shift = async (staff: string, from: string, to: string, breaks: [string, string][] = []) => {
    const [row] = await h.deps
      .knex('shifts')
      .insert({
        location_id: h.shop.locationId,
        staff_id: h.shop.staff[staff],
        clock_in_at: at(from).toJSDate(),
        clock_out_at: at(to).toJSDate(),
      })
      .returning('id');
    for (const [s, e] of breaks)
      await h.deps.knex('breaks').insert({
        location_id: h.shop.locationId,
        shift_id: row.id,
        start_at: at(s).toJSDate(),
        end_at: at(e).toJSDate(),
      });
  };
  await shift('Cashier', '2025-03-10T08:00', '2025-03-10T16:00', [['2025-03-10T12:00', '2025-03-10T12:30']]);
  await shift('Manager', '2025-03-11T09:00', '2025-03-11T11:00');
  await shift('Kitchen', '2025-03-11T10:00', '2025-03-11T13:00');
  await shift('Cashier', '2025-03-12T08:00', '2025-03-12T16:00'); // after the range

  const res = await h.api('GET', '/api/v1/reports/staff?start=2025-03-10&end=2025-03-11', { token: manager });
  expect(res.status).toBe(200);
  const row = (
    name: string,
    orders: number,
    net: number,
    workedMinutes: number,
    workedHours: number,
    netPerHour: number,
  ) => ({ staffId: h.shop.staff[name], name, orders, net, tips: 0, workedMinutes, workedHours, netPerHour });
  expect(res.body.staff).toEqual([
    row('Cashier', 3, 3722, 450, 7.5, 496), // 3722 × 60 / 450 = 496.3
    row('Manager', 1, 900, 120, 2, 450),
    row('Kitchen', 0, 0, 180, 3, 0),
  ]);
  expect(res.body.total).toEqual({
    staffId: null,
    name: null,
    orders: 4,
    net: 4622,
    tips: 0,
    workedMinutes: 750,
    workedHours: 12.5,
    netPerHour: 370,
  });
});

it('gives null net per hour to someone who sold without clocking in', async () => {
  const res = await h.api('GET', '/api/v1/reports/staff?start=2025-03-10&end=2025-03-10', { token: manager });
  expect(res.body.staff.find((s: any) => s.name === 'Manager')).toMatchObject({
    orders: 1,
    workedMinutes: 0,
    netPerHour: null,
  });
});

it.each([
  '/api/v1/reports/items?start=2025-03-10&end=2025-03-11',
  '/api/v1/reports/staff?start=2025-03-10&end=2025-03-11',
])('403 for cashiers on %s', async (path) => {
  expect((await h.api('GET', path, { token: cashier })).status).toBe(403);
});

it.each([
  ['/api/v1/reports/items?start=2025-03-11&end=2025-03-10', 'query.end'],
  ['/api/v1/reports/staff?start=2024-01-01&end=2025-01-01', 'query.end'],
  ['/api/v1/reports/items?start=2025-02-30&end=2025-03-01', 'query.start'],
  ['/api/v1/reports/daily?date=2025-03-10&format=xml', 'query.format'],
])('422 for %s', async (path, errorPath) => {
  const res = await h.api('GET', path, { token: manager });
  expect(res.status).toBe(422);
  expect(res.body.errors.map((e: any) => e.path)).toContain(errorPath);
});

describe('CSV', () => {
  const METHODS = ['cash', 'card', 'qr', 'mpesa', 'airtel', 'loyalty'];
  const prefixed = (prefix: string, o: Record<string, number>) =>
    Object.fromEntries(METHODS.map((m) => [`${prefix}.${m}`, o[m]]));
  const withDate = (date: string, rows: object[]) => rows.map((r) => ({ date, ...r }));

  /** The CSV tables a daily/range row (or the range total, date "total") must produce, from its JSON. */
  function expectedTables(rows: any[]) {
    return {
      summary: rows.map((r) => ({
        date: r.date,
        currency: r.currency,
        ...Object.fromEntries(REPORT_SUMMARY_FIELDS.map((f) => [f, r[f]])),
        ...prefixed('byMethod', r.byMethod),
        ...prefixed('refundsByMethod', r.refundsByMethod),
      })),
      byStaff: rows.flatMap((r) => withDate(r.date, r.byStaff)),
      byCategory: rows.flatMap((r) => withDate(r.date, r.byCategory)),
      topItems: rows.flatMap((r) => withDate(r.date, r.topItems)),
      byHour: rows.flatMap((r) => withDate(r.date, r.byHour)),
    };
  }

  const csv = async (path: string) => {
    const res = await h.api('GET', path, { token: manager });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    return res.body as string;
  };
  const json = async (path: string) => (await h.api('GET', path, { token: manager })).body;

  it('gives the daily report as CSV with the same figures as its JSON', async () => {
    const path = '/api/v1/reports/daily?date=2025-03-10';
    const report = await json(path);
    expect(tables(await csv(`${path}&format=csv`))).toEqual(expectedTables([report]));
  });

  it('gives the range report as CSV: every day, then the total', async () => {
    const path = '/api/v1/reports/range?start=2025-03-10&end=2025-03-11';
    const report = await json(path);
    expect(tables(await csv(`${path}&format=csv`))).toEqual(
      expectedTables([...report.days, { ...report.total, date: 'total', currency: report.currency }]),
    );
  });

  it('gives the item report as CSV with a total row', async () => {
    const path = '/api/v1/reports/items?start=2025-03-10&end=2025-03-11';
    const report = await json(path);
    const rows = [...report.items, { itemId: 'total', name: null, ...report.total }].map((r) => ({
      currency: 'USD',
      ...r,
    }));
    expect(records(parseCsv(await csv(`${path}&format=csv`)))).toEqual(rows);
  });

  it('gives the staff report as CSV with a total row', async () => {
    const path = '/api/v1/reports/staff?start=2025-03-10&end=2025-03-11';
    const report = await json(path);
    const rows = [...report.staff, { ...report.total, staffId: 'total' }].map((r) => ({ currency: 'USD', ...r }));
    expect(records(parseCsv(await csv(`${path}&format=csv`)))).toEqual(rows);
  });

  it('answers CSV to Accept: text/csv, as a download', async () => {
    const path = '/api/v1/reports/daily?date=2025-03-10';
    const res = await h.api('GET', path, { token: manager, headers: { accept: 'text/csv' } });
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="daily-2025-03-10.csv"');
    expect(res.body).toBe(await csv(`${path}&format=csv`));
  });

  it('keeps JSON for clients that accept anything', async () => {
    const res = await h.api('GET', '/api/v1/reports/daily?date=2025-03-10', {
      token: manager,
      headers: { accept: '*/*' },
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('quotes text with commas and defuses text a spreadsheet would run as a formula', async () => {
    await h.deps.knex('categories').where({ id: h.shop.categories['Coffee'] }).update({ name: '=HYPERLINK("x"), hot' });
    const text = await csv('/api/v1/reports/daily?date=2025-03-10&format=csv');
    expect(text).toContain(`,"'=HYPERLINK(""x""), hot",4,1430\r\n`);
    expect(tables(text).byCategory.find((c) => c.categoryId === h.shop.categories['Coffee'])!.name).toBe(
      `'=HYPERLINK("x"), hot`,
    );
  });
});
