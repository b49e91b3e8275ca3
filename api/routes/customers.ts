import * as yup from 'yup';
import type { Knex } from 'knex';
import { json, route, CASHIER, MANAGER, type AnyRoute } from '../route';
import { listOf, ref } from '../openapi-schemas';
import { audit } from '../audit';
import { randomUUID } from 'node:crypto';
import { conflict, notFound } from '../errors';
import { defined, idParams, int4, name, noUnknown, nonBlank, nonEmpty, text } from '../validation';
import { idempotencyKey } from '../idempotency';
import { applyLedgerEntry } from '../../db/loyalty';
import { loyaltyAccount } from '../loyalty-service';
import { CUSTOMER_SEARCH_TEXT } from '../../db/migrations/050_floor';
import type { OrderSnapshot } from '../../core/order';
import type { AuthContext } from '../types';

const TAG = 'Customers';
const fields = {
  name: name().max(120, '${path} may be at most 120 characters'),
  phone: yup
    .string()
    .strict()
    .matches(/^\+?[0-9][0-9 ()-]{2,29}$/, '${path} must be a phone number, e.g. +254712345678')
    .nullable(),
  email: yup
    .string()
    .strict()
    .max(200)
    .matches(/^[^@\s]+@[^@\s]+$/, '${path} must be an e-mail address')
    .nullable(),
  note: text(500).nullable(),
};
const createBody = noUnknown(yup.object({ ...fields, name: fields.name.required() }));
const patchBody = nonEmpty(noUnknown(yup.object(fields)));

export interface CustomerView {
  id: string;
  name: string;
  phone: string | null;
  email: string | null;
  note: string | null;
  loyaltyPoints: number;
  createdAt: string;
  updatedAt: string;
}
const view = (r: any): CustomerView => ({
  id: r.id,
  name: r.name,
  phone: r.phone,
  email: r.email,
  note: r.note,
  loyaltyPoints: r.loyalty_points,
  createdAt: new Date(r.created_at).toISOString(),
  updatedAt: new Date(r.updated_at).toISOString(),
});

export async function findCustomerRow(db: Knex | Knex.Transaction, auth: AuthContext, id: string): Promise<any> {
  const row = await db('customers').where({ id, location_id: auth.locationId }).first();
  if (!row) throw notFound('Customer');
  return row;
}

/** `q` as a LIKE pattern matching it anywhere (its own % and _ taken literally). */
const containing = (q: string) => `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

const listCustomers = route({
  method: 'get',
  path: '/api/v1/customers',
  tag: TAG,
  roles: CASHIER,
  summary:
    'Customers, by name; `q` finds those whose name, phone or e-mail contains it (case-insensitive; a trigram index keeps it fast)',
  query: yup.object({ q: text(100), limit: yup.number().integer().min(1).max(200).default(50) }),
  responses: { 200: json('Customer[]', listOf('Customer')) },
  handler: async ({ query, auth, deps }) => {
    const q = deps.knex('customers').where('location_id', auth.locationId);
    if (query.q) q.whereRaw(`${CUSTOMER_SEARCH_TEXT} LIKE ?`, [containing(query.q)]);
    return (await q.orderBy([{ column: 'name' }, { column: 'id' }]).limit(query.limit)).map(view);
  },
});

const addCustomer = route({
  method: 'post',
  path: '/api/v1/customers',
  tag: TAG,
  roles: CASHIER,
  summary: 'Add a customer',
  body: createBody,
  responses: { 201: json('Customer', ref('Customer')) },
  handler: async ({ body, auth, deps, ctx }) => {
    const [row] = await deps
      .knex('customers')
      .insert({ ...defined(body), location_id: auth.locationId })
      .returning('*');
    ctx.status = 201;
    return view(row);
  },
});

const showCustomer = route({
  method: 'get',
  path: '/api/v1/customers/:id',
  tag: TAG,
  roles: CASHIER,
  summary: 'A customer (with the loyalty balance)',
  params: idParams,
  responses: { 200: json('Customer', ref('Customer')) },
  handler: async ({ params, auth, deps }) => view(await findCustomerRow(deps.knex, auth, params.id)),
});

const changeCustomer = route({
  method: 'patch',
  path: '/api/v1/customers/:id',
  tag: TAG,
  roles: CASHIER,
  summary: "Change a customer's details",
  params: idParams,
  body: patchBody,
  responses: { 200: json('Customer', ref('Customer')) },
  handler: async ({ params, body, auth, deps }) => {
    await findCustomerRow(deps.knex, auth, params.id);
    const [row] = await deps
      .knex('customers')
      .where({ id: params.id })
      .update({ ...defined(body), updated_at: deps.knex.fn.now() })
      .returning('*');
    return view(row);
  },
});

const removeCustomer = route({
  method: 'delete',
  path: '/api/v1/customers/:id',
  tag: TAG,
  roles: MANAGER,
  summary: 'Remove a customer and their loyalty ledger (their orders keep the customer id and name)',
  params: idParams,
  responses: { 204: 'deleted' },
  handler: async ({ params, auth, deps, ctx }) => {
    await deps.knex.transaction(async (trx) => {
      const before = view(await findCustomerRow(trx, auth, params.id));
      await trx('customers').where({ id: params.id }).delete();
      await audit(trx, auth, 'customer.deleted', params.id, { before });
    });
    ctx.status = 204;
    return undefined;
  },
});

const customerOrders = route({
  method: 'get',
  path: '/api/v1/customers/:id/orders',
  tag: TAG,
  roles: CASHIER,
  summary: "The customer's orders, newest first",
  params: idParams,
  query: yup.object({ limit: yup.number().integer().min(1).max(200).default(50) }),
  responses: { 200: json('Order snapshots', listOf('Order')) },
  handler: async ({ params, query, auth, deps }) => {
    await findCustomerRow(deps.knex, auth, params.id);
    const rows = await deps
      .knex('orders')
      .where({ location_id: auth.locationId, customer_id: params.id })
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(query.limit)
      .select('snapshot');
    return rows.map((r) => r.snapshot as OrderSnapshot);
  },
});

const customerLoyalty = route({
  method: 'get',
  path: '/api/v1/customers/:id/loyalty',
  tag: TAG,
  roles: CASHIER,
  summary:
    "The customer's loyalty balance and ledger (newest first): earn, redeem, refund (earned points taken back; `shortfall` what the balance could not cover), return (a refunded points payment), adjust",
  params: idParams,
  query: yup.object({ limit: yup.number().integer().min(1).max(500).default(100) }),
  responses: { 200: json('{customerId, balance, ledger}', ref('LoyaltyAccount')) },
  handler: async ({ params, query, auth, deps }) => {
    const c = await findCustomerRow(deps.knex, auth, params.id);
    return loyaltyAccount(deps.knex, c.id, c.loyalty_points, query.limit);
  },
});

const adjustLoyalty = route({
  method: 'post',
  path: '/api/v1/customers/:id/loyalty/adjust',
  tag: TAG,
  roles: MANAGER,
  summary:
    'Add (or, negative, remove) points by hand, with a reason; audited. The balance never goes below zero (409). Honours Idempotency-Key.',
  params: idParams,
  body: noUnknown(
    yup.object({
      points: int4()
        .test('non-zero', '${path} must not be 0', (v) => v !== 0)
        .meta({ jsonSchema: { not: { const: 0 } } })
        .required(),
      reason: nonBlank(200).required(),
    }),
  ),
  responses: { 200: json('{customerId, balance, ledger}', ref('LoyaltyAccount')) },
  errors: [409],
  handler: async ({ params, body, auth, deps, ctx }) => {
    const key = `adjust:${params.id}:${idempotencyKey(ctx) ?? randomUUID()}`;
    await deps.knex.transaction(async (trx) => {
      const c = await trx('customers')
        .where({ id: params.id, location_id: auth.locationId })
        .forUpdate()
        .first('loyalty_points');
      if (!c) throw notFound('Customer');
      if (await trx('loyalty_ledger').where('key', key).first('id')) return; // a repeated request
      const entry = {
        kind: 'adjust' as const,
        points: body.points,
        staffId: auth.staffId,
        reason: body.reason,
        key,
      };
      if (!(await applyLedgerEntry(trx, auth.locationId, params.id, entry))) {
        throw conflict(
          `The balance is ${c.loyalty_points} points: this adjustment would take it below zero or past its limit`,
        );
      }
      await audit(trx, auth, 'loyalty.adjusted', params.id, {
        points: body.points,
        reason: body.reason,
        before: c.loyalty_points,
        after: c.loyalty_points + body.points,
      });
    });
    const c = await findCustomerRow(deps.knex, auth, params.id);
    return loyaltyAccount(deps.knex, c.id, c.loyalty_points, 100);
  },
});

export function customersRoutes(): AnyRoute[] {
  return [
    listCustomers,
    addCustomer,
    showCustomer,
    changeCustomer,
    removeCustomer,
    customerOrders,
    customerLoyalty,
    adjustLoyalty,
  ];
}
