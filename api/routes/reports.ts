import * as yup from 'yup';
import type { ParameterizedContext } from 'koa';
import { json, route, MANAGER, type ResponseSpec } from '../route';
import { ref } from '../openapi-schemas';
import { notFound, validationError, type FieldError } from '../errors';
import { loadSettings } from '../settings-read';
import { localToday } from '../time';
import { dailyReport, MAX_RANGE_DAYS, parseLocalDate, rangeReport, type ReportLocation } from '../reports';
import type { AppDeps, AuthContext } from '../types';
import { isoDate } from '../validation';
import { dailyCsv, formatQuery, itemCsv, rangeCsv, sendCsv, staffCsv, wantsCsv, type CsvTable } from '../csv';
import { itemReport, staffReport } from '../report-periods';

/** Reports cover years 1970..9999 (anything else is surely a typo, and keeps instants in range). */
const MIN_DATE = '1970-01-01';
const MAX_DATE = '9999-12-30';
/** A calendar day in that range, stated in the spec as format date plus a pattern. */
export const reportDate = () =>
  isoDate().meta({
    jsonSchema: { format: 'date', pattern: '^(?!9999-12-31)(?:19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}$' },
  });

const DEFINITIONS =
  "Money is integer minor units in the location currency; a day is the location's local day (timezone setting). " +
  'Counted orders: persisted orders with status closed, partially_refunded or refunded (never cancelled or open) whose closedAt falls in the local day. ' +
  'orders = number of counted orders; gross = Σ subtotal; discounts = Σ discount; net = gross − discounts; tax = Σ tax; ' +
  'serviceCharge = Σ service charge; tips = Σ tip; cardFees = Σ card fee; ' +
  'refunds = Σ amount of succeeded refunds settled in the local day (of any order); refundsByMethod = the same per payment method; netAfterRefunds = net − refunds; ' +
  'byMethod = Σ amount of succeeded or refunded payments of the counted orders per method (cash, card, qr, mpesa, airtel; always all five, 0 when none); ' +
  'byStaff = [{staffId, name, orders, net, tips}] per staff member owning counted orders, sorted by net descending ' +
  '(orders of a deleted staff member: staffId and name null); ' +
  "byCategory = [{categoryId, name, quantity, net}] per category (the item's current one; none: null), topItems = the 10 items with the highest net " +
  "[{itemId, name, quantity, net}], byHour = [{hour, orders, net}] per local hour of closing with sales; a line's net is its total less its " +
  'largest-remainder share of the order discount, so these add up to net. ' +
  'With Accept: text/csv or ?format=csv the same figures come as CSV: tables summary, byStaff, byCategory, topItems, byHour (each a title line, ' +
  'a header line and rows with a date column; tables separated by an empty line).';

/** A report's 200: JSON with this schema, or the same figures as CSV. */
const report = (description: string, schema: Record<string, unknown>): ResponseSpec => ({
  ...json(description, schema),
  alternatives: { 'text/csv': { type: 'string' } },
});

/** The report as JSON, or as CSV when the request asks for it. */
function answer<R>(
  ctx: ParameterizedContext,
  format: string | undefined,
  filename: string,
  result: R,
  tables: (r: R) => CsvTable[],
): R | string {
  return wantsCsv(ctx, format) ? sendCsv(ctx, `${filename}.csv`, tables(result)) : result;
}

const rangeQuery = () =>
  yup.object({ start: reportDate().required(), end: reportDate().required(), format: formatQuery() });

/** 422 unless start and end are valid dates, start ≤ end and the range spans at most MAX_RANGE_DAYS. */
function checkRange(query: { start: string; end: string }): void {
  const errors: FieldError[] = [];
  checkDate(query.start, 'query.start', errors);
  checkDate(query.end, 'query.end', errors);
  throwIfAny(errors);
  const days = parseLocalDate(query.end)!.diff(parseLocalDate(query.start)!, 'days').days + 1;
  if (days < 1) throwIfAny([{ path: 'query.end', message: 'end must not be before start' }]);
  if (days > MAX_RANGE_DAYS)
    throwIfAny([{ path: 'query.end', message: `the range may span at most ${MAX_RANGE_DAYS} days` }]);
}

/** 422 unless `value` is a real calendar date (2024-02-30 is not) within the supported years. */
export function checkDate(value: string, path: string, errors: FieldError[]): void {
  if (!parseLocalDate(value)) errors.push({ path, message: `${path} is not a valid date` });
  else if (value < MIN_DATE || value > MAX_DATE)
    errors.push({ path, message: `${path} must be between ${MIN_DATE} and ${MAX_DATE}` });
}

export function throwIfAny(errors: FieldError[]): void {
  if (errors.length)
    throw validationError(errors.length === 1 ? errors[0]!.message : `${errors.length} fields are invalid`, errors);
}

async function reportLocation(deps: AppDeps, locationId: string): Promise<ReportLocation> {
  const settings = await loadSettings(deps.knex, locationId);
  if (!settings) throw notFound('Location');
  return { locationId, timezone: settings.timezone, currency: settings.currency };
}

type RangeQuery = yup.InferType<ReturnType<typeof rangeQuery>>;

/** A range report's handler: 422 for a bad range, then the report as JSON or as `<name>-<start>-<end>.csv`. */
function rangeHandler<R>(
  name: string,
  build: (knex: AppDeps['knex'], loc: ReportLocation, start: string, end: string) => Promise<R>,
  tables: (r: R) => CsvTable[],
) {
  return async ({
    query,
    auth,
    deps,
    ctx,
  }: {
    query: RangeQuery;
    auth: AuthContext;
    deps: AppDeps;
    ctx: ParameterizedContext;
  }) => {
    checkRange(query);
    const loc = await reportLocation(deps, auth.locationId);
    const result = await build(deps.knex, loc, query.start, query.end);
    return answer(ctx, query.format, `${name}-${query.start}-${query.end}`, result, tables);
  };
}

const showDailyReport = route({
  method: 'get',
  path: '/api/v1/reports/daily',
  summary: "Sales report of one local day (default: today in the location's timezone)",
  tag: 'Reports',
  roles: MANAGER,
  query: yup.object({ date: reportDate(), format: formatQuery() }),
  responses: {
    200: report(
      '{date, currency, orders, gross, discounts, net, tax, serviceCharge, tips, cardFees, refunds, refundsByMethod, netAfterRefunds, byMethod: {cash, card, qr, mpesa, airtel}, byStaff: [...]}. ' +
        DEFINITIONS,
      ref('DailyReport'),
    ),
  },
  handler: async ({ query, auth, deps, ctx }) => {
    const loc = await reportLocation(deps, auth.locationId);
    const date = query.date ?? localToday(loc.timezone);
    const errors: FieldError[] = [];
    checkDate(date, 'query.date', errors);
    throwIfAny(errors);
    return answer(ctx, query.format, `daily-${date}`, await dailyReport(deps.knex, loc, date), dailyCsv);
  },
});

const showRangeReport = route({
  method: 'get',
  path: '/api/v1/reports/range',
  summary: `One daily sales report per local day from start to end inclusive (days without sales are zeros), plus their total; at most ${MAX_RANGE_DAYS} days`,
  tag: 'Reports',
  roles: MANAGER,
  query: rangeQuery(),
  responses: {
    200: report(
      '{start, end, currency, days: [daily report], total: {orders, gross, discounts, net, tax, serviceCharge, tips, cardFees, refunds, refundsByMethod, netAfterRefunds, byMethod, byStaff}} ' +
        '— total sums the days (byStaff merged per staff member). 422 if a date is invalid, end < start or the range is longer than ' +
        `${MAX_RANGE_DAYS} days. ` +
        DEFINITIONS,
      ref('RangeReport'),
    ),
  },
  handler: rangeHandler('range', rangeReport, rangeCsv),
});

const showItemsReport = route({
  method: 'get',
  path: '/api/v1/reports/items',
  summary: `Per item sold from start to end (local days, inclusive; at most ${MAX_RANGE_DAYS} days): quantity, net, cost and margin`,
  tag: 'Reports',
  roles: MANAGER,
  query: rangeQuery(),
  responses: {
    200: report(
      '{start, end, currency, items: [{itemId, name, quantity, net, cost, margin}], total: {quantity, net, cost, margin}}, items by net descending. ' +
        "net = line totals less their share of order discounts; cost = quantity × the item's current cost, margin = net − cost (both null when " +
        'the item has no cost); total cost and margin cover the items with a cost. Counted orders as in the daily report. ' +
        'CSV (Accept: text/csv or ?format=csv): one table currency,itemId,name,quantity,net,cost,margin with a last row itemId "total".',
      ref('ItemReport'),
    ),
  },
  handler: rangeHandler('items', itemReport, itemCsv),
});

const showStaffReport = route({
  method: 'get',
  path: '/api/v1/reports/staff',
  summary: `Per staff member from start to end (local days, inclusive; at most ${MAX_RANGE_DAYS} days): orders, net, tips, worked hours, net per hour`,
  tag: 'Reports',
  roles: MANAGER,
  query: rangeQuery(),
  responses: {
    200: report(
      '{start, end, currency, staff: [{staffId, name, orders, net, tips, workedMinutes, workedHours, netPerHour}], total: {…the same, staffId and name null}}, ' +
        "by net descending. orders, net, tips as the daily report's byStaff; workedMinutes of the shifts clocked in at the location within the range " +
        '(an open shift up to now), workedHours = minutes / 60 (two decimals), netPerHour = round(net × 60 / workedMinutes), null without worked time. ' +
        'CSV (Accept: text/csv or ?format=csv): one table currency,staffId,name,orders,net,tips,workedMinutes,workedHours,netPerHour with a last row staffId "total".',
      ref('StaffReport'),
    ),
  },
  handler: rangeHandler('staff', staffReport, staffCsv),
});

export function reportsRoutes() {
  return [showDailyReport, showRangeReport, showItemsReport, showStaffReport];
}
