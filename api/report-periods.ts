import type { Knex } from 'knex';
import { ShiftModel, shiftView } from '../db/models/shift';
import { countedOrders, rangeInstants, type ReportLocation } from './reports';
import { itemDayRows, itemTotals } from './report-breakdowns';

/**
 * The item and staff reports over local days start..end (inclusive), counting the same orders as
 * the daily report (api/reports.ts). Money is integer minor units in the location's currency.
 *
 * Item report, per item sold: `quantity`, `net` (line totals less their share of order discounts,
 * api/report-breakdowns.ts), `cost` = quantity × the item's current `cost` and `margin` = net − cost
 * (both null when the item has no cost). The total sums quantity and net over all items, cost and
 * margin over the items that have a cost.
 *
 * Staff report, per staff member who owned counted orders or clocked in at the location in the
 * range: `orders`, `net`, `tips` (as the daily report's byStaff), `workedMinutes` of the shifts
 * clocked in within the range (as GET /staff/:id/shifts counts them; an open shift up to now),
 * `workedHours` (= minutes / 60, two decimals) and `netPerHour` = round(net × 60 / workedMinutes)
 * (null without worked time).
 */

export interface ItemReportRow {
  itemId: string | null;
  name: string;
  quantity: number;
  net: number;
  cost: number | null;
  margin: number | null;
}
export interface ItemReport {
  start: string;
  end: string;
  currency: string;
  items: ItemReportRow[];
  total: { quantity: number; net: number; cost: number; margin: number };
}

export interface StaffReportRow {
  staffId: string | null;
  name: string | null;
  orders: number;
  net: number;
  tips: number;
  workedMinutes: number;
  workedHours: number;
  netPerHour: number | null;
}
export interface StaffReport {
  start: string;
  end: string;
  currency: string;
  staff: StaffReportRow[];
  total: StaffReportRow;
}

const READ = { isolationLevel: 'repeatable read', readOnly: true } as const;
const n = (v: unknown): number => Number(v ?? 0);
const sumOf = <T>(rows: T[], f: (r: T) => number) => rows.reduce((acc, r) => acc + f(r), 0);

export async function itemReport(knex: Knex, loc: ReportLocation, start: string, end: string): Promise<ItemReport> {
  const { items, costs } = await knex.transaction(async (trx) => {
    const items = itemTotals(await itemDayRows(trx, () => countedOrders(trx, loc, start, end)));
    const ids = items.map((i) => i.itemId).filter((id): id is string => id !== null);
    const costs = new Map<string, number | null>();
    for (const r of await trx('items').whereIn('id', ids).select('id', 'cost')) costs.set(r.id, r.cost);
    return { items, costs };
  }, READ);
  const rows = items.map((i): ItemReportRow => {
    const unitCost = i.itemId ? (costs.get(i.itemId) ?? null) : null;
    const cost = unitCost === null ? null : unitCost * i.quantity;
    return { ...i, cost, margin: cost === null ? null : i.net - cost };
  });
  const costed = rows.filter((r) => r.cost !== null);
  return {
    start,
    end,
    currency: loc.currency,
    items: rows,
    total: {
      quantity: sumOf(rows, (r) => r.quantity),
      net: sumOf(rows, (r) => r.net),
      cost: sumOf(costed, (r) => r.cost!),
      margin: sumOf(costed, (r) => r.margin!),
    },
  };
}

/** Worked minutes per staff member, of the shifts clocked in at the location within the range. */
async function workedMinutes(
  trx: Knex.Transaction,
  loc: ReportLocation,
  start: string,
  end: string,
): Promise<Map<string, number>> {
  const { from, to } = rangeInstants(loc, start, end);
  const shifts = await ShiftModel.query(trx)
    .where('location_id', loc.locationId)
    .where('clock_in_at', '>=', from)
    .where('clock_in_at', '<', to)
    .withGraphFetched('breaks');
  const now = new Date();
  const minutes = new Map<string, number>();
  for (const s of shifts) minutes.set(s.staff_id, (minutes.get(s.staff_id) ?? 0) + shiftView(s, now).workedMinutes);
  return minutes;
}

function staffRow(
  staffId: string | null,
  name: string | null,
  orders: number,
  net: number,
  tips: number,
  minutes: number,
): StaffReportRow {
  return {
    staffId,
    name,
    orders,
    net,
    tips,
    workedMinutes: minutes,
    workedHours: Math.round((minutes * 100) / 60) / 100,
    netPerHour: minutes > 0 ? Math.round((net * 60) / minutes) : null,
  };
}

export async function staffReport(knex: Knex, loc: ReportLocation, start: string, end: string): Promise<StaffReport> {
  const { sales, minutes, names } = await knex.transaction(async (trx) => {
    const sales = await trx
      .from(countedOrders(trx, loc, start, end))
      .groupBy('c.staff_id')
      .select(
        'c.staff_id',
        trx.raw('count(*) as orders'),
        trx.raw('sum(c.subtotal - c.discount) as net'),
        trx.raw('sum(c.tip) as tips'),
      );
    const minutes = await workedMinutes(trx, loc, start, end);
    const ids = [...new Set([...sales.map((s: any) => s.staff_id).filter(Boolean), ...minutes.keys()])];
    const names = new Map<string, string>(
      (await trx('staff').whereIn('id', ids).select('id', 'name')).map((r: any) => [r.id, r.name]),
    );
    return { sales, minutes, names };
  }, READ);
  const rows = new Map<string | null, StaffReportRow>();
  for (const s of sales) {
    const id = s.staff_id ?? null;
    rows.set(
      id,
      staffRow(
        id,
        id ? (names.get(id) ?? null) : null,
        n(s.orders),
        n(s.net),
        n(s.tips),
        id ? (minutes.get(id) ?? 0) : 0,
      ),
    );
  }
  for (const [id, m] of minutes) if (!rows.has(id)) rows.set(id, staffRow(id, names.get(id) ?? null, 0, 0, 0, m));
  const staff = [...rows.values()].sort(
    (a, b) =>
      b.net - a.net || (a.name ?? '').localeCompare(b.name ?? '') || (a.staffId ?? '').localeCompare(b.staffId ?? ''),
  );
  const total = staffRow(
    null,
    null,
    sumOf(staff, (r) => r.orders),
    sumOf(staff, (r) => r.net),
    sumOf(staff, (r) => r.tips),
    sumOf(staff, (r) => r.workedMinutes),
  );
  return { start, end, currency: loc.currency, staff, total };
}
