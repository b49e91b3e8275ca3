import type { Knex } from 'knex';
import { DateTime } from 'luxon';
import { localDayRange } from './time';
import { breakdownsOf, hourDayRows, itemKeyRows, nameItemRows, type Breakdowns } from './report-breakdowns';
import { rolledUpDayRows, type AmountDayRow, type DayRows } from './report-rollups';

/**
 * Sales reports over a location's LOCAL days (its timezone setting). All money is integer minor units.
 *
 * An order counts when it has been persisted (`persisted_at` set by the closing transaction) with
 * status `closed`, `partially_refunded` or `refunded` (cancelled and open orders never count), and it
 * belongs to the local day its `closed_at` falls in.
 *
 * - `orders`        number of such orders
 * - `gross`         Σ orders.subtotal (line totals, before discounts)
 * - `discounts`     Σ orders.discount
 * - `net`           gross − discounts
 * - `tax`           Σ orders.tax
 * - `serviceCharge` Σ orders.service_charge
 * - `tips`          Σ orders.tip
 * - `cardFees`      Σ orders.card_fee
 * - `refunds`       Σ refunds.amount of `succeeded` refunds whose `settled_at` falls in the local day
 *                   (of any order, whenever it was closed)
 * - `refundsByMethod` the same refunds per payment method (every method, loyalty included, always present)
 * - `netAfterRefunds` net − refunds (`net` keeps its meaning: gross − discounts)
 * - `byMethod`      Σ payments.amount of `succeeded` or `refunded` payments of the counted orders, per
 *                   method; all five methods are always present (0 when none). Tips and fees are not in it.
 * - `byStaff`       per staff member who owned counted orders (orders.staff_id): `{staffId, name, orders,
 *                   net, tips}`, sorted by net descending (then name). Orders whose staff member was deleted
 *                   are grouped under `staffId: null, name: null`.
 * - `byCategory`    per category `{categoryId, name, quantity, net}`, `topItems` the ten items with the
 *                   highest net `{itemId, name, quantity, net}`, `byHour` per local hour of closing with
 *                   sales `{hour, orders, net}`; line nets share the order discount (api/report-breakdowns.ts),
 *                   so each of them adds up to `net` (topItems: of the items it lists).
 *
 * The numbers come from six aggregate queries (orders, payments, staff, refunds, lines, hours), each
 * grouped by local date in SQL, run in one REPEATABLE READ transaction so they agree; a day that has
 * ended keeps its aggregate rows as a rollup (api/report-rollups.ts), so a long range reads them back.
 */

export const PAYMENT_METHODS = ['cash', 'card', 'qr', 'mpesa', 'airtel', 'loyalty'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];
export type ByMethod = Record<PaymentMethod, number>;

/** Order statuses that count as sales. */
export const REPORTED_STATUSES = ['closed', 'partially_refunded', 'refunded'] as const;
/** Payment statuses whose amount was taken (a refunded payment was taken, then given back via a refund). */
export const TAKEN_PAYMENT_STATUSES = ['succeeded', 'refunded'] as const;
/** Longest range report, in days (inclusive): a leap year. */
export const MAX_RANGE_DAYS = 366;

export interface StaffTotals {
  staffId: string | null;
  name: string | null;
  orders: number;
  net: number;
  tips: number;
}

export interface ReportTotals extends Breakdowns {
  orders: number;
  gross: number;
  discounts: number;
  net: number;
  tax: number;
  serviceCharge: number;
  tips: number;
  cardFees: number;
  refunds: number;
  refundsByMethod: ByMethod;
  netAfterRefunds: number;
  byMethod: ByMethod;
  byStaff: StaffTotals[];
}

export interface DailyReport extends ReportTotals {
  date: string;
  currency: string;
  /** Cash drawer sessions closed that day, and their over (> 0) / short (< 0) summed. */
  drawers: DrawerClose[];
  drawerOverShort: number;
}

export interface RangeReport {
  start: string;
  end: string;
  currency: string;
  days: DailyReport[];
  total: ReportTotals;
}

export interface ReportLocation {
  locationId: string;
  timezone: string;
  currency: string;
}

/** A strict calendar date (YYYY-MM-DD that exists: no 2024-02-30), or undefined. */
export function parseLocalDate(value: string): DateTime | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return undefined;
  const d = DateTime.fromFormat(value, 'yyyy-MM-dd', { zone: 'UTC' });
  return d.isValid ? d : undefined;
}

/** The local dates from start to end inclusive (both valid YYYY-MM-DD, start ≤ end). */
export function datesBetween(start: string, end: string): string[] {
  const first = parseLocalDate(start)!;
  const count = Math.round(parseLocalDate(end)!.diff(first, 'days').days) + 1;
  return Array.from({ length: count }, (_, i) => first.plus({ days: i }).toISODate()!);
}

export function emptyTotals(): ReportTotals {
  return {
    orders: 0,
    gross: 0,
    discounts: 0,
    net: 0,
    tax: 0,
    serviceCharge: 0,
    tips: 0,
    cardFees: 0,
    refunds: 0,
    refundsByMethod: { cash: 0, card: 0, qr: 0, mpesa: 0, airtel: 0, loyalty: 0 },
    netAfterRefunds: 0,
    byMethod: { cash: 0, card: 0, qr: 0, mpesa: 0, airtel: 0, loyalty: 0 },
    byStaff: [],
    byCategory: [],
    topItems: [],
    byHour: [],
  };
}

const n = (v: unknown): number => Number(v ?? 0);

function sortStaff(rows: StaffTotals[]): StaffTotals[] {
  return rows.sort(
    (a, b) =>
      b.net - a.net || (a.name ?? '').localeCompare(b.name ?? '') || (a.staffId ?? '').localeCompare(b.staffId ?? ''),
  );
}

/**
 * Sums several days' totals: money fields and byMethod added, byStaff merged per staff member.
 * The breakdowns are left empty: a range's come from its item rows (a day's topItems is cut short).
 */
export function sumTotals(rows: ReportTotals[]): ReportTotals {
  const total = emptyTotals();
  const staff = new Map<string | null, StaffTotals>();
  for (const r of rows) {
    total.orders += r.orders;
    total.gross += r.gross;
    total.discounts += r.discounts;
    total.net += r.net;
    total.tax += r.tax;
    total.serviceCharge += r.serviceCharge;
    total.tips += r.tips;
    total.cardFees += r.cardFees;
    total.refunds += r.refunds;
    total.netAfterRefunds += r.netAfterRefunds;
    for (const m of PAYMENT_METHODS) total.byMethod[m] += r.byMethod[m];
    for (const m of PAYMENT_METHODS) total.refundsByMethod[m] += r.refundsByMethod[m];
    for (const s of r.byStaff) {
      const acc = staff.get(s.staffId);
      if (acc) {
        acc.orders += s.orders;
        acc.net += s.net;
        acc.tips += s.tips;
      } else staff.set(s.staffId, { ...s });
    }
  }
  total.byStaff = sortStaff([...staff.values()]);
  return total;
}

/** The UTC instants bounding the local days start..end (inclusive). */
export function rangeInstants(loc: ReportLocation, start: string, end: string): { from: Date; to: Date } {
  return { from: localDayRange(start, loc.timezone).start, to: localDayRange(end, loc.timezone).end };
}

/**
 * The counted orders of the local days start..end, each with its local day and hour of closing,
 * aliased `c`. A fresh builder per call (a query may use it more than once).
 */
export function countedOrders(
  trx: Knex | Knex.Transaction,
  loc: ReportLocation,
  start: string,
  end: string,
): Knex.QueryBuilder {
  const { from, to } = rangeInstants(loc, start, end);
  return trx('orders as o')
    .where('o.location_id', loc.locationId)
    .whereNotNull('o.persisted_at')
    .whereIn('o.status', REPORTED_STATUSES)
    .where('o.closed_at', '>=', from)
    .where('o.closed_at', '<', to)
    .select(
      'o.id',
      'o.staff_id',
      'o.subtotal',
      'o.discount',
      'o.tax',
      'o.service_charge',
      'o.tip',
      'o.card_fee',
      trx.raw("to_char((o.closed_at AT TIME ZONE ?)::date, 'YYYY-MM-DD') as day", [loc.timezone]),
      trx.raw('extract(hour from (o.closed_at AT TIME ZONE ?))::int as hour', [loc.timezone]),
    )
    .as('c');
}

/**
 * The aggregate rows of the local days start..end, each tagged with its day, straight from the
 * orders, payments and refunds (the live queries). They hold ids, never names, so a day's rows
 * stay true when an item or a staff member is renamed and can be kept (api/report-rollups.ts).
 */
export async function liveDayRows(
  trx: Knex.Transaction,
  loc: ReportLocation,
  start: string,
  end: string,
): Promise<DayRows> {
  const counted = () => countedOrders(trx, loc, start, end);
  return {
    orders: await orderDayRows(trx, counted),
    methods: await methodDayRows(trx, loc, counted),
    staff: await staffDayRows(trx, counted),
    refunds: await refundDayRows(trx, loc, start, end),
    items: await itemKeyRows(trx, counted),
    hours: await hourDayRows(trx, counted),
  };
}

type Counted = () => Knex.QueryBuilder;

const amountDayRows = (rows: any[]): AmountDayRow[] =>
  rows.map((r) => ({ day: r.day, method: r.method, amount: n(r.amount) }));

/** Orders and their sums per local day of the counted orders. */
async function orderDayRows(trx: Knex.Transaction, counted: Counted): Promise<DayRows['orders']> {
  const rows = await trx
    .from(counted())
    .groupBy('c.day')
    .select(
      'c.day',
      trx.raw('count(*) as orders'),
      trx.raw('sum(c.subtotal) as gross'),
      trx.raw('sum(c.discount) as discounts'),
      trx.raw('sum(c.tax) as tax'),
      trx.raw('sum(c.service_charge) as service_charge'),
      trx.raw('sum(c.tip) as tips'),
      trx.raw('sum(c.card_fee) as card_fees'),
    );
  return rows.map((r: any) => ({
    day: r.day,
    orders: n(r.orders),
    gross: n(r.gross),
    discounts: n(r.discounts),
    tax: n(r.tax),
    serviceCharge: n(r.service_charge),
    tips: n(r.tips),
    cardFees: n(r.card_fees),
  }));
}

/** Taken payment amounts per local day and method of the counted orders. */
async function methodDayRows(
  trx: Knex.Transaction,
  loc: ReportLocation,
  counted: Counted,
): Promise<DayRows['methods']> {
  const rows = await trx
    .from(counted())
    // Lateral: one index lookup per counted order, never a scan of every payment ever taken.
    .joinRaw('cross join lateral (select * from payments where payments.order_id = c.id offset 0) as p')
    .where('p.location_id', loc.locationId)
    .whereIn('p.status', TAKEN_PAYMENT_STATUSES)
    .groupBy('c.day', 'p.method')
    .select('c.day', 'p.method', trx.raw('sum(p.amount) as amount'));
  return amountDayRows(rows);
}

/** Orders, net and tips per local day and owning staff member of the counted orders. */
async function staffDayRows(trx: Knex.Transaction, counted: Counted): Promise<DayRows['staff']> {
  const rows = await trx
    .from(counted())
    .groupBy('c.day', 'c.staff_id')
    .select(
      'c.day',
      'c.staff_id',
      trx.raw('count(*) as orders'),
      trx.raw('sum(c.subtotal - c.discount) as net'),
      trx.raw('sum(c.tip) as tips'),
    );
  return rows.map((r: any) => ({
    day: r.day,
    staffId: r.staff_id ?? null,
    orders: n(r.orders),
    net: n(r.net),
    tips: n(r.tips),
  }));
}

/** Succeeded refunds per local day of settling and method (any order's, whenever it was closed). */
async function refundDayRows(
  trx: Knex.Transaction,
  loc: ReportLocation,
  start: string,
  end: string,
): Promise<DayRows['refunds']> {
  const { from, to } = rangeInstants(loc, start, end);
  const localDay = (column: string) =>
    trx.raw(`to_char((${column} AT TIME ZONE ?)::date, 'YYYY-MM-DD')`, [loc.timezone]);
  const rows = await trx
    .from(
      trx('refunds as r')
        .where('r.location_id', loc.locationId)
        .where('r.status', 'succeeded')
        .where('r.settled_at', '>=', from)
        .where('r.settled_at', '<', to)
        .leftJoin('payments as p', 'p.id', 'r.payment_id')
        .select(
          'r.amount',
          trx.raw('coalesce(r.method, p.method) as method'),
          localDay('r.settled_at').wrap('', ' as day'),
        )
        .as('rf'),
    )
    .groupBy('rf.day', 'rf.method')
    .select('rf.day', 'rf.method', trx.raw('sum(rf.amount) as amount'));
  return amountDayRows(rows);
}

/** Every staff member's current name (deleted ones are absent). */
async function staffNames(trx: Knex.Transaction, rows: DayRows['staff']): Promise<Map<string, string>> {
  const ids = [...new Set(rows.map((r) => r.staffId).filter((id): id is string => id !== null))];
  if (!ids.length) return new Map();
  return new Map((await trx('staff').whereIn('id', ids).select('id', 'name')).map((r: any) => [r.id, r.name]));
}

const isMethod = (m: string): m is PaymentMethod => (PAYMENT_METHODS as readonly string[]).includes(m);

/** The range report of the given day rows, with current names and the drawer closes. */
async function reportOf(
  trx: Knex.Transaction,
  loc: ReportLocation,
  start: string,
  end: string,
  rows: DayRows,
): Promise<RangeReport> {
  const byDay = new Map<string, DailyReport>();
  const days = datesBetween(start, end).map((date) => {
    const row: DailyReport = { date, currency: loc.currency, ...emptyTotals(), drawers: [], drawerOverShort: 0 };
    byDay.set(date, row);
    return row;
  });
  for (const { day, ...r } of rows.orders) {
    const d = byDay.get(day);
    if (d) Object.assign(d, r, { net: r.gross - r.discounts });
  }
  for (const r of rows.methods) {
    const d = byDay.get(r.day);
    if (d && isMethod(r.method)) d.byMethod[r.method] += r.amount;
  }
  const names = await staffNames(trx, rows.staff);
  for (const { day, staffId, orders, net, tips } of rows.staff)
    byDay.get(day)?.byStaff.push({ staffId, name: (staffId && names.get(staffId)) ?? null, orders, net, tips });
  for (const r of rows.refunds) {
    const d = byDay.get(r.day);
    if (!d) continue;
    d.refunds += r.amount;
    if (isMethod(r.method)) d.refundsByMethod[r.method] += r.amount;
  }
  const itemRows = await nameItemRows(trx, rows.items);
  const itemsOf = groupByDay(itemRows);
  const hoursOf = groupByDay(rows.hours);
  for (const d of days) {
    d.netAfterRefunds = d.net - d.refunds;
    sortStaff(d.byStaff);
    Object.assign(d, breakdownsOf(itemsOf.get(d.date) ?? [], hoursOf.get(d.date) ?? []));
  }
  const { from, to } = rangeInstants(loc, start, end);
  await addDrawerCloses(trx, loc, from, to, byDay);

  const total = { ...sumTotals(days), ...breakdownsOf(itemRows, rows.hours) };
  return { start, end, currency: loc.currency, days, total };
}

/**
 * One report row per local day from start to end inclusive (days without orders are all zeros),
 * plus their total. Dates must be valid YYYY-MM-DD with start ≤ end (the routes check that).
 * Days that have ended come from their rollups (built on first use), the others live; the
 * figures are the same either way (test/reports-rollup.test.ts compares them with liveRangeReport).
 * One REPEATABLE READ transaction, so all the rows agree (it writes only rollups).
 */
export async function rangeReport(knex: Knex, loc: ReportLocation, start: string, end: string): Promise<RangeReport> {
  return knex.transaction(
    async (trx) => reportOf(trx, loc, start, end, await rolledUpDayRows(trx, loc, start, end, liveDayRows)),
    { isolationLevel: 'repeatable read' },
  );
}

/** The range report computed from the orders, payments and refunds alone (no rollups). */
export async function liveRangeReport(
  knex: Knex,
  loc: ReportLocation,
  start: string,
  end: string,
): Promise<RangeReport> {
  return knex.transaction(async (trx) => reportOf(trx, loc, start, end, await liveDayRows(trx, loc, start, end)), {
    isolationLevel: 'repeatable read',
    readOnly: true,
  });
}

function groupByDay<T extends { day: string }>(rows: T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) out.set(r.day, [...(out.get(r.day) ?? []), r]);
  return out;
}

/** The report of one local day (see the definitions at the top of this file). */
export async function dailyReport(knex: Knex, loc: ReportLocation, date: string): Promise<DailyReport> {
  const { days } = await rangeReport(knex, loc, date, date);
  return days[0]!;
}

export interface DrawerClose {
  drawerId: string;
  sessionId: string;
  float: number;
  expected: number;
  counted: number;
  overShort: number;
}

/** Adds to each day the cash drawer sessions closed on it, with what each was over (> 0) or short (< 0). */
async function addDrawerCloses(
  knex: Knex | Knex.Transaction,
  loc: ReportLocation,
  from: Date,
  to: Date,
  byDay: Map<string, DailyReport>,
): Promise<void> {
  const rows = await knex('drawer_sessions')
    .where({ location_id: loc.locationId, status: 'closed' })
    .where('closed_at', '>=', from)
    .where('closed_at', '<', to)
    .orderBy('closed_at')
    .select('drawer_id', 'id', 'float', 'expected', 'counted', 'closed_at');
  for (const r of rows) {
    const day = byDay.get(DateTime.fromJSDate(new Date(r.closed_at), { zone: loc.timezone }).toISODate()!);
    if (!day) continue;
    const overShort = r.counted - r.expected;
    day.drawers.push({
      drawerId: r.drawer_id,
      sessionId: r.id,
      float: r.float,
      expected: r.expected,
      counted: r.counted,
      overShort,
    });
    day.drawerOverShort += overShort;
  }
}
