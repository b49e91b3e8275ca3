import { DateTime } from 'luxon';
import { startHarness, Harness } from './support/harness';
import { postPayment } from './support/payments';
import { addDiscount, moveClosedAt, paymentParts, persisted, REPORT_SUMMARY_FIELDS } from './support/sales';

let h: Harness;
let manager: string;
let cashier: string;
const NY = 'America/New_York'; // the seeded location's timezone

beforeAll(async () => {
  h = await startHarness();
  manager = await h.login('2345');
  cashier = await h.login('3456');
});
afterAll(async () => h?.close());

interface Line {
  item: string;
  quantity: number;
  modifiers?: string[];
}

interface Sale {
  id: string;
  staffId: string;
  totals: {
    subtotal: number;
    discount: number;
    serviceCharge: number;
    tax: number;
    cardFee: number;
    tip: number;
    total: number;
  };
  cashPaid: number;
}

/** Opens an order as `token`, adds lines (and a discount), pays it in cash (split in two when asked), waits for it to persist. */
async function sale(token: string, lines: Line[], opts: { discount?: string; split?: boolean } = {}): Promise<Sale> {
  const created = await h.api('POST', '/api/v1/orders', { token, body: { type: 'takeaway' } });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  let snap = created.body;
  for (const l of lines) {
    const res = await h.api('POST', `/api/v1/orders/${id}/lines`, {
      token,
      body: {
        itemId: h.shop.items[l.item],
        quantity: l.quantity,
        modifierIds: (l.modifiers ?? []).map((m) => h.shop.modifiers[m]),
      },
    });
    expect(res.status).toBe(200);
    snap = res.body;
  }
  if (opts.discount) snap = await addDiscount(h, token, id, opts.discount);
  const balance = snap.totals.balance as number;
  const amounts = paymentParts(balance, opts.split);
  let cashPaid = 0;
  for (const amount of amounts) {
    const res = await postPayment(h, token, id, { method: 'cash', amount, tendered: amount + 100 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ method: 'cash', status: 'succeeded', amount });
    cashPaid += res.body.amount;
    snap = res.body.order;
  }
  expect(snap.status).toBe('closed');
  await persisted(h, id);
  return { id, staffId: snap.staffId, totals: snap.totals, cashPaid };
}

const sum = (sales: Sale[], f: (s: Sale) => number) => sales.reduce((acc, s) => acc + f(s), 0);

function expectedTotals(sales: Sale[]) {
  const gross = sum(sales, (s) => s.totals.subtotal);
  const discounts = sum(sales, (s) => s.totals.discount);
  return {
    orders: sales.length,
    gross,
    discounts,
    net: gross - discounts,
    tax: sum(sales, (s) => s.totals.tax),
    serviceCharge: sum(sales, (s) => s.totals.serviceCharge),
    tips: sum(sales, (s) => s.totals.tip),
    cardFees: sum(sales, (s) => s.totals.cardFee),
  };
}

const ZERO_METHODS = { cash: 0, card: 0, qr: 0, mpesa: 0, airtel: 0, loyalty: 0 };
/** byCategory, topItems and byHour are checked in reports-backoffice.test.ts. */
const BREAKDOWNS = { byCategory: expect.any(Array), topItems: expect.any(Array), byHour: expect.any(Array) };

describe('reports', () => {
  let today: string;
  let todaysSales: Sale[];
  let todaysReport: any;

  it("sums today's persisted orders, by payment method and by staff, excluding cancelled orders", async () => {
    const a = await sale(cashier, [{ item: 'Burger', quantity: 2, modifiers: ['Extra cheese'] }], {
      discount: 'Staff 10%',
      split: true,
    });
    const b = await sale(cashier, [{ item: 'Latte', quantity: 1, modifiers: ['Large', 'Oat milk'] }]);
    const c = await sale(manager, [
      { item: 'Espresso', quantity: 3, modifiers: ['Regular'] },
      { item: 'Croissant', quantity: 2 },
    ]);
    todaysSales = [a, b, c];
    expect(a.totals.discount).toBeGreaterThan(0);
    expect(a.staffId).toBe(h.shop.staff['Cashier']);
    expect(c.staffId).toBe(h.shop.staff['Manager']);

    // A cancelled order: persisted, closed_at inside today, but never counted.
    const d = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } });
    await h.api('POST', `/api/v1/orders/${d.body.id}/lines`, {
      token: cashier,
      body: { itemId: h.shop.items['Burger'], quantity: 5, modifierIds: [] },
    });
    const cancelled = await h.api('POST', `/api/v1/orders/${d.body.id}/cancel`, {
      token: cashier,
      body: { reason: 'customer left' },
    });
    expect(cancelled.body.status).toBe('cancelled');
    await persisted(h, d.body.id);
    // An order still open (never persisted) is not counted either.
    const open = await h.api('POST', '/api/v1/orders', { token: manager, body: { type: 'takeaway' } });
    await h.api('POST', `/api/v1/orders/${open.body.id}/lines`, {
      token: manager,
      body: { itemId: h.shop.items['Croissant'], quantity: 1, modifierIds: [] },
    });

    const closed = await h.deps.knex('orders').whereIn('id', [a.id, b.id, c.id, d.body.id]).pluck('closed_at');
    await h.deps.knex('orders').where({ id: d.body.id }).update({ closed_at: closed[0] });
    today = DateTime.now().setZone(NY).toISODate()!;
    for (const at of closed) expect(DateTime.fromJSDate(at).setZone(NY).toISODate()).toBe(today);

    // Refunds settled today (any order): succeeded ones count, failed and pending do not.
    const now = new Date();
    await h.deps.knex('refunds').insert([
      {
        id: '0190b3e4-6d2a-7c3b-9f00-00000000a001',
        location_id: h.shop.locationId,
        order_id: a.id,
        method: 'cash',
        amount: 300,
        status: 'succeeded',
        reason: 'cold',
        created_at: now,
        settled_at: now,
      },
      {
        id: '0190b3e4-6d2a-7c3b-9f00-00000000a002',
        location_id: h.shop.locationId,
        order_id: b.id,
        method: 'card',
        amount: 125,
        status: 'succeeded',
        reason: 'spilt',
        created_at: now,
        settled_at: now,
      },
      {
        id: '0190b3e4-6d2a-7c3b-9f00-00000000a003',
        location_id: h.shop.locationId,
        order_id: b.id,
        amount: 999,
        status: 'failed',
        reason: 'x',
        created_at: now,
        settled_at: now,
      },
      {
        id: '0190b3e4-6d2a-7c3b-9f00-00000000a004',
        location_id: h.shop.locationId,
        order_id: c.id,
        amount: 777,
        status: 'pending',
        reason: 'x',
        created_at: now,
        settled_at: null,
      },
    ]);

    // Payments that took no money (failed, cancelled) are not in byMethod.
    const payment = (seq: number, method: string, status: string, amount: number) => ({
      id: `0190b3e4-6d2a-7c3b-9f00-00000000b0${seq}`,
      location_id: h.shop.locationId,
      order_id: c.id,
      seq,
      method,
      status,
      amount,
      created_at: now,
    });
    await h.deps
      .knex('payments')
      .insert([
        payment(90, 'card', 'failed', 5000),
        payment(91, 'mpesa', 'cancelled', 4000),
        payment(92, 'cash', 'failed', 3000),
      ]);

    const res = await h.api('GET', '/api/v1/reports/daily', { token: manager });
    expect(res.status).toBe(200);
    todaysReport = res.body;
    const staffNet = (sales: Sale[]) => sum(sales, (s) => s.totals.subtotal - s.totals.discount);
    const byStaff = [
      {
        staffId: h.shop.staff['Cashier'],
        name: 'Cashier',
        orders: 2,
        net: staffNet([a, b]),
        tips: sum([a, b], (s) => s.totals.tip),
      },
      { staffId: h.shop.staff['Manager'], name: 'Manager', orders: 1, net: staffNet([c]), tips: c.totals.tip },
    ].sort((x, y) => y.net - x.net);
    expect(res.body).toEqual({
      date: today,
      drawers: [],
      drawerOverShort: 0,
      currency: 'USD',
      ...expectedTotals([a, b, c]),
      refunds: 425,
      refundsByMethod: { ...ZERO_METHODS, cash: 300, card: 125 },
      netAfterRefunds: expectedTotals([a, b, c]).net - 425,
      byMethod: { ...ZERO_METHODS, cash: a.cashPaid + b.cashPaid + c.cashPaid },
      byStaff,
      ...BREAKDOWNS,
    });
    expect(res.body.byMethod.cash).toBe(sum([a, b, c], (s) => s.totals.total));
    expect(res.body.net).toBe(res.body.gross - res.body.discounts);

    // A closed order not yet persisted (the closing transaction has not run) is not counted yet.
    await h.deps.knex('orders').where({ id: d.body.id }).update({ status: 'closed', persisted_at: null });
    expect((await h.api('GET', `/api/v1/reports/daily?date=${today}`, { token: manager })).body).toEqual(res.body);
    await h.deps.knex('orders').where({ id: d.body.id }).update({ status: 'cancelled', persisted_at: new Date() });

    // The same day asked for explicitly.
    const explicit = await h.api('GET', `/api/v1/reports/daily?date=${today}`, { token: manager });
    expect(explicit.body).toEqual(res.body);
    // Admins may read reports too.
    const admin = await h.login('1234');
    expect((await h.api('GET', `/api/v1/reports/daily?date=${today}`, { token: admin })).status).toBe(200);
  });

  it('gives zeros (and all five payment methods) for a day without orders', async () => {
    const res = await h.api('GET', '/api/v1/reports/daily?date=2001-01-01', { token: manager });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      date: '2001-01-01',
      drawers: [],
      drawerOverShort: 0,
      currency: 'USD',
      orders: 0,
      gross: 0,
      discounts: 0,
      net: 0,
      tax: 0,
      serviceCharge: 0,
      tips: 0,
      cardFees: 0,
      refunds: 0,
      refundsByMethod: ZERO_METHODS,
      netAfterRefunds: 0,
      byMethod: ZERO_METHODS,
      byStaff: [],
      byCategory: [],
      topItems: [],
      byHour: [],
    });
  });

  it('reports a range as one row per local day, zero days included, with a total equal to their sum', async () => {
    // One more sale, moved to yesterday noon local time.
    const yesterday = DateTime.fromISO(today, { zone: NY }).minus({ days: 1 });
    const e = await sale(manager, [{ item: 'Burger', quantity: 1, modifiers: ['Bacon'] }], { discount: '$2 off' });
    await moveClosedAt(h, e.id, yesterday.set({ hour: 12 }));

    const start = yesterday.toISODate()!;
    const end = yesterday.plus({ days: 2 }).toISODate()!;
    const res = await h.api('GET', `/api/v1/reports/range?start=${start}&end=${end}`, { token: manager });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ start, end, currency: 'USD' });
    const days = res.body.days as any[];
    expect(days.map((d) => d.date)).toEqual([start, today, end]);

    expect(days[0]).toEqual({
      date: start,
      currency: 'USD',
      drawers: [],
      drawerOverShort: 0,
      ...expectedTotals([e]),
      refunds: 0,
      refundsByMethod: ZERO_METHODS,
      netAfterRefunds: expectedTotals([e]).net,
      byMethod: { ...ZERO_METHODS, cash: e.cashPaid },
      byStaff: [
        {
          staffId: h.shop.staff['Manager'],
          name: 'Manager',
          orders: 1,
          net: e.totals.subtotal - e.totals.discount,
          tips: e.totals.tip,
        },
      ],
      ...BREAKDOWNS,
    });
    expect(days[1]).toEqual(todaysReport); // the same numbers as the daily report
    expect(days[2]).toMatchObject({ orders: 0, gross: 0, refunds: 0, byMethod: ZERO_METHODS, byStaff: [] });

    const total = res.body.total;
    for (const f of REPORT_SUMMARY_FIELDS) expect(total[f]).toBe(days.reduce((acc, d) => acc + d[f], 0));
    for (const m of Object.keys(ZERO_METHODS))
      expect(total.byMethod[m]).toBe(days.reduce((acc, d) => acc + d.byMethod[m], 0));
    expect(total).toMatchObject(expectedTotals([...todaysSales, e]));
    expect(total.byMethod.cash).toBe(sum([...todaysSales, e], (s) => s.cashPaid));
    // byStaff merged across days: the manager now has today's order and yesterday's.
    const merged = new Map<string, { orders: number; net: number; tips: number }>();
    for (const d of days)
      for (const s of d.byStaff) {
        const acc = merged.get(s.staffId) ?? { orders: 0, net: 0, tips: 0 };
        merged.set(s.staffId, { orders: acc.orders + s.orders, net: acc.net + s.net, tips: acc.tips + s.tips });
      }
    expect(total.byStaff).toHaveLength(2);
    for (const s of total.byStaff)
      expect(merged.get(s.staffId)).toEqual({ orders: s.orders, net: s.net, tips: s.tips });
    expect(total.byStaff.find((s: any) => s.name === 'Manager').orders).toBe(2);
    expect(total.byStaff[0].net).toBeGreaterThanOrEqual(total.byStaff[1].net);
    expect(total.date).toBeUndefined();

    // A full leap year is allowed.
    const year = await h.api('GET', '/api/v1/reports/range?start=2024-01-01&end=2024-12-31', { token: manager });
    expect(year.status).toBe(200);
    expect(year.body.days).toHaveLength(366);
    expect(year.body.total.orders).toBe(0);
  });

  it('rejects cashiers with 403', async () => {
    const daily = await h.api('GET', '/api/v1/reports/daily', { token: cashier });
    expect(daily.status).toBe(403);
    expect(daily.body.code).toBe('FORBIDDEN');
    const range = await h.api('GET', '/api/v1/reports/range?start=2024-01-01&end=2024-01-02', { token: cashier });
    expect(range.status).toBe(403);
    expect((await h.api('GET', '/api/v1/reports/daily')).status).toBe(401);
  });

  it.each([
    ['/api/v1/reports/daily?date=2024-02-30', 'query.date'],
    ['/api/v1/reports/daily?date=2023-02-29', 'query.date'],
    ['/api/v1/reports/daily?date=2024-13-01', 'query.date'],
    ['/api/v1/reports/daily?date=24-01-01', 'query.date'],
    ['/api/v1/reports/daily?date=yesterday', 'query.date'],
    ['/api/v1/reports/daily?date=0000-01-01', 'query.date'],
    ['/api/v1/reports/range?start=2024-01-01', 'query.end'],
    ['/api/v1/reports/range?end=2024-01-01', 'query.start'],
    ['/api/v1/reports/range?start=2024-02-30&end=2024-03-01', 'query.start'],
    ['/api/v1/reports/range?start=2024-03-01&end=2024-04-31', 'query.end'],
    ['/api/v1/reports/range?start=2024-03-02&end=2024-03-01', 'query.end'],
    ['/api/v1/reports/range?start=2024-01-01&end=2025-01-01', 'query.end'], // 367 days
    ['/api/v1/reports/range?start=2000-01-01&end=2030-01-01', 'query.end'],
  ])('422 for %s', async (path, errorPath) => {
    const res = await h.api('GET', path, { token: manager });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      code: 'VALIDATION_ERROR',
      detail: expect.any(String),
      timestamp: expect.any(String),
    });
    expect(res.body.errors.map((e: any) => e.path)).toContain(errorPath);
  });

  it("puts an order on the location's local day, not the UTC day", async () => {
    const tz = 'Pacific/Auckland';
    await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ timezone: tz });
    const late = await sale(manager, [{ item: 'Espresso', quantity: 1, modifiers: ['Regular'] }]);
    const early = await sale(cashier, [{ item: 'Croissant', quantity: 1 }]);
    // 23:30 on 15 July in Auckland (NZST, UTC+12) is 11:30Z on the 15th; 00:30 on the 16th is 12:30Z on the 15th.
    const lateAt = DateTime.fromISO('2024-07-15T23:30', { zone: tz });
    const earlyAt = DateTime.fromISO('2024-07-16T00:30', { zone: tz });
    expect(lateAt.toUTC().toISODate()).toBe('2024-07-15');
    expect(earlyAt.toUTC().toISODate()).toBe('2024-07-15');
    await moveClosedAt(h, late.id, lateAt);
    await moveClosedAt(h, early.id, earlyAt);

    const d15 = await h.api('GET', '/api/v1/reports/daily?date=2024-07-15', { token: manager });
    expect(d15.body).toMatchObject({
      date: '2024-07-15',
      ...expectedTotals([late]),
      byMethod: { ...ZERO_METHODS, cash: late.cashPaid },
    });
    expect(d15.body.byStaff).toEqual([expect.objectContaining({ name: 'Manager', orders: 1 })]);
    const d16 = await h.api('GET', '/api/v1/reports/daily?date=2024-07-16', { token: manager });
    expect(d16.body).toMatchObject({
      date: '2024-07-16',
      ...expectedTotals([early]),
      byMethod: { ...ZERO_METHODS, cash: early.cashPaid },
    });
    expect(d16.body.byStaff).toEqual([expect.objectContaining({ name: 'Cashier', orders: 1 })]);

    // The range report groups by local date in SQL and agrees with the daily reports.
    const range = await h.api('GET', '/api/v1/reports/range?start=2024-07-14&end=2024-07-17', { token: manager });
    expect(range.status).toBe(200);
    expect(range.body.days.map((d: any) => d.orders)).toEqual([0, 1, 1, 0]);
    expect(range.body.days[1]).toEqual(d15.body);
    expect(range.body.days[2]).toEqual(d16.body);
    expect(range.body.total.byStaff.map((s: any) => s.orders)).toEqual([1, 1]);

    // "Today" follows the location's timezone too.
    const todayRes = await h.api('GET', '/api/v1/reports/daily', { token: manager });
    expect(todayRes.body.date).toBe(DateTime.now().setZone(tz).toISODate());
  });
});
