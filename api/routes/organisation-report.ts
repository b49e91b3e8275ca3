import * as yup from 'yup';
import { json, route, OWNER, type AnyRoute } from '../route';
import { ref } from '../openapi-schemas';
import { localToday } from '../time';
import { dailyReport, sumTotals, type DailyReport, type ReportTotals } from '../reports';
import { Location } from '../../db/models/location';
import type { FieldError } from '../errors';
import { checkDate, reportDate, throwIfAny } from './reports';
import { formatQuery, organisationCsv, sendCsv, wantsCsv } from '../csv';

/** One currency's figures summed over the locations that sell in it (money of different currencies never adds up). */
function totalsPerCurrency(reports: DailyReport[]): Array<{ currency: string } & ReportTotals> {
  const currencies = [...new Set(reports.map((r) => r.currency))].sort();
  return currencies.map((currency) => ({
    currency,
    ...sumTotals(reports.filter((r) => r.currency === currency)),
  }));
}

export function organisationReportRoutes(): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/reports/organisation',
      summary:
        "Every location's daily report (each its own local day; deactivated locations too) and the totals per currency. " +
        "Default date: today at the request's location. Totals sum each location's figures; their byStaff is merged, " +
        'byCategory, topItems and byHour are left empty (see each location for them)',
      tag: 'Reports',
      roles: OWNER,
      query: yup.object({ date: reportDate(), format: formatQuery() }),
      responses: {
        200: {
          ...json(
            '{date, locations: [{locationId, name, active, report}], totals}. CSV (Accept: text/csv or ?format=csv): one table ' +
              'locationId,location,date,currency and the daily summary columns, a row per location, then a row per currency with locationId "total".',
            ref('OrganisationReport'),
          ),
          alternatives: { 'text/csv': { type: 'string' } },
        },
      },
      handler: async ({ query, auth, deps, ctx }) => {
        const locations = await Location.query(deps.knex)
          .where('organisation_id', auth.organisationId ?? null)
          .orderBy(['created_at', 'id']);
        const here = locations.find((l) => l.id === auth.locationId);
        const date = query.date ?? localToday(here?.timezone ?? 'UTC');
        const errors: FieldError[] = [];
        checkDate(date, 'query.date', errors);
        throwIfAny(errors);
        const rows = [];
        // One after another: each is a few queries, and an organisation has a handful of locations.
        for (const l of locations) {
          const report = await dailyReport(
            deps.knex,
            { locationId: l.id, timezone: l.timezone, currency: l.currency },
            date,
          );
          rows.push({ locationId: l.id, name: l.name, active: l.active, report });
        }
        const result = { date, locations: rows, totals: totalsPerCurrency(rows.map((r) => r.report)) };
        return wantsCsv(ctx, query.format) ? sendCsv(ctx, `organisation-${date}.csv`, organisationCsv(result)) : result;
      },
    }),
  ];
}
