import type { Knex } from 'knex';
import { DateTime } from 'luxon';
import { localDayRange } from './time';
import type { HourTotals, ItemKeyRow } from './report-breakdowns';
import type { ReportLocation } from './reports';

/**
 * Daily rollups of the sales reports (tables report_day_rollups and report_day_touches, migration 110_01).
 *
 * A report's figures are built from per-day aggregate rows (`DayRows`: ids and sums, never names).
 * For a day that has ended, the first report that reads it stores that day's rows with the
 * snapshot they came from; later reports read them back instead of aggregating the day's orders
 * again, and join the current names as the live query does. Today is always live.
 *
 * Built lazily rather than maintained by every close so that the figures are the live queries'
 * own, by construction. The database's triggers record a touch of a day whenever a write may
 * change its figures (a late persist, a refund, a payment's status, an edited row), and a rollup
 * is used only while its snapshot saw every touch of its day (see the migration); otherwise the
 * day is computed live again and its rollup replaced.
 */

export interface OrderDayRow {
  day: string;
  orders: number;
  gross: number;
  discounts: number;
  tax: number;
  serviceCharge: number;
  tips: number;
  cardFees: number;
}
export interface AmountDayRow {
  day: string;
  method: string;
  amount: number;
}
export interface StaffDayRow {
  day: string;
  staffId: string | null;
  orders: number;
  net: number;
  tips: number;
}
/** A range's aggregate rows, each tagged with its local day. */
export interface DayRows {
  orders: OrderDayRow[];
  methods: AmountDayRow[];
  staff: StaffDayRow[];
  refunds: AmountDayRow[];
  items: ItemKeyRow[];
  hours: (HourTotals & { day: string })[];
}
export type LiveDayRows = (trx: Knex.Transaction, loc: ReportLocation, start: string, end: string) => Promise<DayRows>;

const KINDS = ['orders', 'methods', 'staff', 'refunds', 'items', 'hours'] as const;
/** Postgres serialization_failure: another build stored the day after this one's snapshot. */
const SERIALIZATION_FAILURE = '40001';
const emptyRows = (): DayRows => ({ orders: [], methods: [], staff: [], refunds: [], items: [], hours: [] });

function append(to: DayRows, rows: DayRows, day?: string): void {
  for (const k of KINDS)
    for (const r of rows[k] as { day: string }[]) if (day === undefined || r.day === day) (to[k] as object[]).push(r);
}

function dates(start: string, end: string): string[] {
  const out: string[] = [];
  for (let d = DateTime.fromISO(start, { zone: 'UTC' }); d.toISODate()! <= end; d = d.plus({ days: 1 }))
    out.push(d.toISODate()!);
  return out;
}

/** The maximal runs [first, last] of consecutive dates for which `take` holds. */
function runs(all: string[], take: (d: string) => boolean): [string, string][] {
  const out: [string, string][] = [];
  all.forEach((d, i) => {
    if (!take(d)) return;
    if (i > 0 && take(all[i - 1]!)) out[out.length - 1]![1] = d;
    else out.push([d, d]);
  });
  return out;
}

/**
 * Deletes the location's touches of days without a rollup once they are an hour old: a build
 * that starts later sees them in its snapshot, and no build runs for an hour. Without this the
 * touches of days nobody reports on (every close of today, for one) would pile up.
 */
async function sweepTouches(trx: Knex.Transaction, loc: ReportLocation): Promise<void> {
  await trx('report_day_touches as t')
    .where('t.location_id', loc.locationId)
    .whereRaw("t.at < now() - interval '1 hour'")
    .whereNotExists(trx('report_day_rollups as r').whereRaw('r.location_id = t.location_id and r.day = t.day'))
    .delete();
}

/**
 * Stores the rows of the given days as of this transaction's snapshot, and deletes the touches
 * that snapshot saw (the rows include their writes). In a savepoint: when a concurrent build
 * stored a day first, this one's figures stay as computed and unstored.
 */
async function store(trx: Knex.Transaction, loc: ReportLocation, days: string[], rows: DayRows): Promise<void> {
  if (!days.length) return;
  const records = days.map((day) => {
    const data = emptyRows();
    append(data, rows, day);
    return {
      location_id: loc.locationId,
      day,
      timezone: loc.timezone,
      data: JSON.stringify(data),
      snapshot: trx.raw('pg_current_snapshot()'),
      built_at: trx.fn.now(),
    };
  });
  try {
    await trx.transaction(async (sp) => {
      await sp('report_day_rollups')
        .insert(records)
        .onConflict(['location_id', 'day'])
        .merge(['data', 'timezone', 'snapshot', 'built_at']);
      await sp('report_day_touches').where('location_id', loc.locationId).whereIn('day', days).delete();
      await sweepTouches(sp, loc);
    });
  } catch (err) {
    if ((err as { code?: string }).code !== SERIALIZATION_FAILURE) throw err;
  }
}

/** The stored rows of those days that are still valid: built in this timezone, after every touch of the day. */
async function validRollups(trx: Knex.Transaction, loc: ReportLocation, days: string[]): Promise<Map<string, DayRows>> {
  if (!days.length) return new Map();
  const rows = await trx('report_day_rollups as r')
    .where('r.location_id', loc.locationId)
    .where('r.timezone', loc.timezone)
    .whereIn('r.day', days)
    .whereNotExists(
      trx('report_day_touches as t')
        .whereRaw('t.location_id = r.location_id and t.day = r.day')
        .whereRaw('not pg_visible_in_snapshot(t.xid, r.snapshot)'),
    )
    .select(trx.raw("to_char(r.day, 'YYYY-MM-DD') as day"), 'r.data');
  return new Map(rows.map((r: { day: string; data: DayRows }) => [r.day, r.data]));
}

/**
 * The day rows of start..end: ended days from their valid rollups (building the others from
 * `live` and storing them), the rest from `live`. Runs in the caller's REPEATABLE READ transaction.
 */
export async function rolledUpDayRows(
  trx: Knex.Transaction,
  loc: ReportLocation,
  start: string,
  end: string,
  live: LiveDayRows,
): Promise<DayRows> {
  const all = dates(start, end);
  const now = Date.now();
  const ended = new Set(all.filter((d) => localDayRange(d, loc.timezone).end.getTime() <= now));
  const kept = await validRollups(trx, loc, [...ended]);
  const out = emptyRows();
  for (const rows of kept.values()) append(out, rows);
  for (const [first, last] of runs(all, (d) => !kept.has(d))) {
    const rows = await live(trx, loc, first, last);
    append(out, rows);
    await store(
      trx,
      loc,
      dates(first, last).filter((d) => ended.has(d)),
      rows,
    );
  }
  return out;
}
