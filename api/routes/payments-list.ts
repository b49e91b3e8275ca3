import * as yup from 'yup';
import { json, route, MANAGER } from '../route';
import { ref as component } from '../openapi-schemas';
import { noUnknown, UUID_RE } from '../validation';
import { cursor, decodeCursor, encodeCursor, instant, limit, parseInstant } from '../paging';
import type { PublicPayment } from '../../core/order';

const CURSOR = 'payments';
const ISO_PART = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const STATUSES = ['pending', 'succeeded', 'failed', 'cancelled', 'refunded'] as const;
// Byte order, so the keyset comparison and the sort agree whatever the database's collation.
const CREATED = `(p.value->>'createdAt') COLLATE "C"`;
const ID = `(p.value->>'id') COLLATE "C"`;
const KEY = `${CREATED}, ${ID}`;
const METHODS = ['cash', 'card', 'qr', 'mpesa', 'airtel'] as const;

/**
 * Payments as the orders show them (the same objects as GET /api/v1/payments/:id), read from each
 * order's live snapshot. `createdAt` is always a JS ISO string, so it sorts and compares as text.
 */
export function paymentsListRoutes() {
  return [
    route({
      method: 'get',
      path: '/api/v1/payments',
      summary:
        'Payments of this location, newest first (cursor pagination; start inclusive, end exclusive, on createdAt), e.g. ?status=pending for reconciliation',
      tag: 'Payments',
      roles: MANAGER,
      query: noUnknown(
        yup.object({
          status: yup.string().strict().oneOf(STATUSES),
          method: yup.string().strict().oneOf(METHODS),
          start: instant(),
          end: instant(),
          limit: limit(),
          cursor: cursor(),
        }),
      ),
      responses: { 200: json('{payments: [payment object], nextCursor}', component('PaymentPage')) },
      handler: async ({ query, auth, deps }) => {
        const q = deps.knex
          .from(deps.knex.raw("orders o CROSS JOIN LATERAL jsonb_array_elements(o.snapshot->'payments') AS p(value)"))
          .where('o.location_id', auth.locationId)
          .select(deps.knex.raw('p.value AS payment'));
        if (query.status) q.whereRaw("p.value->>'status' = ?", [query.status]);
        if (query.method) q.whereRaw("p.value->>'method' = ?", [query.method]);
        if (query.start) q.whereRaw("p.value->>'createdAt' >= ?", [parseInstant(query.start).toISOString()]);
        if (query.end) q.whereRaw("p.value->>'createdAt' < ?", [parseInstant(query.end).toISOString()]);
        if (query.cursor) {
          const [createdAt, id] = decodeCursor(CURSOR, query.cursor, [ISO_PART, UUID_RE]);
          q.whereRaw(`(${KEY}) < (? COLLATE "C", ? COLLATE "C")`, [createdAt!, id!]);
        }
        const rows: { payment: PublicPayment }[] = await q
          .orderByRaw(`${CREATED} DESC, ${ID} DESC`)
          .limit(query.limit + 1);
        const page = rows.slice(0, query.limit).map((r) => r.payment);
        const last = page.at(-1);
        return {
          payments: page,
          nextCursor: rows.length > query.limit && last ? encodeCursor(CURSOR, [last.createdAt, last.id]) : null,
        };
      },
    }),
  ];
}
