import type { ParameterizedContext } from 'koa';
import * as yup from 'yup';
import type { DailyReport, RangeReport, ReportTotals } from './reports';
import { PAYMENT_METHODS } from './reports';
import type { ItemReport, StaffReport } from './report-periods';

/**
 * Reports as CSV (RFC 4180: comma separated, CRLF line ends, fields with a comma, quote or line
 * break quoted). A report with several tables (daily, range) writes each as a title line, a header
 * line and its rows, with an empty line between tables; a one-table report (items, staff) is a
 * plain CSV. Numbers are written exactly as in the JSON (integer minor units); null is an empty
 * field. Text that a spreadsheet would run as a formula (starting with = + - @, tab or CR) gets a
 * leading apostrophe.
 */

export interface CsvTable<T = any> {
  title: string;
  columns: [header: string, value: (row: T) => unknown][];
  rows: T[];
}

/** The `format` query parameter every report accepts. */
export const formatQuery = () =>
  yup.string().oneOf(['json', 'csv']).meta({ description: 'csv: the same figures as CSV (as with Accept: text/csv)' });

/** Whether the request asks for CSV: `?format=csv`, or an Accept header that prefers text/csv to JSON. */
export function wantsCsv(ctx: ParameterizedContext, format: string | undefined): boolean {
  if (format) return format === 'csv';
  return ctx.get('accept') !== '' && ctx.accepts('application/json', 'text/csv') === 'text/csv';
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const line = (cells: unknown[]) => cells.map(cell).join(',') + '\r\n';

function tableLines(t: CsvTable): string {
  return line(t.columns.map(([h]) => h)) + t.rows.map((r) => line(t.columns.map(([, f]) => f(r)))).join('');
}

export function toCsv(tables: CsvTable[]): string {
  if (tables.length === 1) return tableLines(tables[0]!);
  return tables.map((t) => line([t.title]) + tableLines(t)).join('\r\n');
}

/** Answers the request with CSV (as a download named `filename`). */
export function sendCsv(ctx: ParameterizedContext, filename: string, tables: CsvTable[]): string {
  ctx.type = 'text/csv; charset=utf-8';
  ctx.set('Content-Disposition', `attachment; filename="${filename}"`);
  return toCsv(tables);
}

/** A day's row, or the range total (date "total"). */
type Row = ReportTotals & { date: string; currency: string };

const SUMMARY_FIELDS = [
  'orders',
  'gross',
  'discounts',
  'net',
  'tax',
  'serviceCharge',
  'tips',
  'cardFees',
  'refunds',
  'netAfterRefunds',
] as const;

/** One row per breakdown entry of every day, keyed by date. */
function perDay<K extends 'byStaff' | 'byCategory' | 'topItems' | 'byHour'>(rows: Row[], key: K) {
  return rows.flatMap((r) => (r[key] as ReportTotals[K][number][]).map((e) => ({ date: r.date, ...e })));
}

/** The tables of a daily or range report: summary, byStaff, byCategory, topItems, byHour. */
export function salesTables(rows: Row[]): CsvTable[] {
  const date: [string, (r: { date: string }) => unknown] = ['date', (r) => r.date];
  return [
    {
      title: 'summary',
      columns: [
        date,
        ['currency', (r: Row) => r.currency],
        ...SUMMARY_FIELDS.map((f): [string, (r: Row) => unknown] => [f, (r) => r[f]]),
        ...PAYMENT_METHODS.map((m): [string, (r: Row) => unknown] => [`byMethod.${m}`, (r) => r.byMethod[m]]),
        ...PAYMENT_METHODS.map((m): [string, (r: Row) => unknown] => [
          `refundsByMethod.${m}`,
          (r) => r.refundsByMethod[m],
        ]),
      ],
      rows,
    },
    {
      title: 'byStaff',
      columns: [date, ...fields(['staffId', 'name', 'orders', 'net', 'tips'])],
      rows: perDay(rows, 'byStaff'),
    },
    {
      title: 'byCategory',
      columns: [date, ...fields(['categoryId', 'name', 'quantity', 'net'])],
      rows: perDay(rows, 'byCategory'),
    },
    {
      title: 'topItems',
      columns: [date, ...fields(['itemId', 'name', 'quantity', 'net'])],
      rows: perDay(rows, 'topItems'),
    },
    { title: 'byHour', columns: [date, ...fields(['hour', 'orders', 'net'])], rows: perDay(rows, 'byHour') },
  ];
}

function fields(names: string[]): [string, (r: any) => unknown][] {
  return names.map((f) => [f, (r: any) => r[f]]);
}

export const dailyCsv = (r: DailyReport) => salesTables([r]);
export const rangeCsv = (r: RangeReport) =>
  salesTables([...r.days, { date: 'total', currency: r.currency, ...r.total }]);

/** The organisation report: one summary row per location, then one per currency with its totals (locationId "total"). */
export function organisationCsv(r: {
  date: string;
  locations: { locationId: string; name: string; report: DailyReport }[];
  totals: (ReportTotals & { currency: string })[];
}): CsvTable[] {
  const rows = [
    ...r.locations.map((l) => ({ ...l.report, locationId: l.locationId, location: l.name })),
    ...r.totals.map((t) => ({ ...t, date: r.date, locationId: 'total', location: null })),
  ];
  const [summary] = salesTables(rows);
  return [{ ...summary!, title: 'locations', columns: [...fields(['locationId', 'location']), ...summary!.columns] }];
}

export function itemCsv(r: ItemReport): CsvTable[] {
  const rows = [...r.items, { itemId: 'total', name: null, ...r.total }];
  return [
    {
      title: 'items',
      columns: [['currency', () => r.currency], ...fields(['itemId', 'name', 'quantity', 'net', 'cost', 'margin'])],
      rows,
    },
  ];
}

export function staffCsv(r: StaffReport): CsvTable[] {
  const rows = [...r.staff, { ...r.total, staffId: 'total' }];
  return [
    {
      title: 'staff',
      columns: [
        ['currency', () => r.currency],
        ...fields(['staffId', 'name', 'orders', 'net', 'tips', 'workedMinutes', 'workedHours', 'netPerHour']),
      ],
      rows,
    },
  ];
}
