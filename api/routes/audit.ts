import * as yup from 'yup';
import { json, route, MANAGER } from '../route';
import { ref as component } from '../openapi-schemas';
import { noUnknown, text, uuid } from '../validation';
import { cursor, decodeCursor, encodeCursor, instant, limit, parseInstant } from '../paging';

const CURSOR = 'audit';
const ID_PART = /^\d{1,18}$/;

interface AuditRow {
  id: string;
  location_id: string;
  staff_id: string | null;
  staff_name: string | null;
  action: string;
  subject: string | null;
  data: unknown;
  created_at: Date;
}

const auditView = (r: AuditRow) => ({
  id: String(r.id),
  action: r.action,
  subject: r.subject,
  locationId: r.location_id,
  staff: r.staff_id ? { id: r.staff_id, name: r.staff_name } : null,
  data: r.data ?? null,
  createdAt: r.created_at.toISOString(),
});

export function auditRoutes() {
  return [
    route({
      method: 'get',
      path: '/api/v1/audit',
      summary:
        'Audit log of money- and permission-changing actions, newest first (cursor pagination; start inclusive, end exclusive). ' +
        'Actions include payment.resolve, order.discount_applied, order.discount_removed, order.cancelled, order.line_voided, settings.changed, ' +
        'order_numbers.reset, printer.created|changed|deleted, discount.created|changed|deleted, catalog.item_price_changed, catalog.modifier_prices_changed, display.issued|revoked; ' +
        '`data` holds what changed (before/after where there is a before).',
      tag: 'Support',
      roles: MANAGER,
      query: noUnknown(
        yup.object({
          action: text(100).min(1),
          staffId: uuid(),
          start: instant(),
          end: instant(),
          limit: limit(),
          cursor: cursor(),
        }),
      ),
      responses: {
        200: json(
          '{auditLog: [{id, action, subject, locationId, staff: {id, name}|null, data, createdAt}], nextCursor}',
          component('AuditPage'),
        ),
      },
      handler: async ({ query, auth, deps }) => {
        const q = deps
          .knex('audit_log as a')
          .leftJoin('staff as s', 's.id', 'a.staff_id')
          .where('a.location_id', auth.locationId)
          .select('a.*', 's.name as staff_name');
        if (query.action) q.where('a.action', query.action);
        if (query.staffId) q.where('a.staff_id', query.staffId);
        if (query.start) q.where('a.created_at', '>=', parseInstant(query.start));
        if (query.end) q.where('a.created_at', '<', parseInstant(query.end));
        if (query.cursor) q.where('a.id', '<', decodeCursor(CURSOR, query.cursor, [ID_PART])[0]!);
        const rows: AuditRow[] = await q.orderBy('a.id', 'desc').limit(query.limit + 1);
        const page = rows.slice(0, query.limit);
        return {
          auditLog: page.map(auditView),
          nextCursor: rows.length > query.limit ? encodeCursor(CURSOR, [String(page.at(-1)!.id)]) : null,
        };
      },
    }),
  ];
}
