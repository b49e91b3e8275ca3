import * as yup from 'yup';
import { randomUUID } from 'node:crypto';
import { json, route, CASHIER, type AnyRoute } from '../route';
import { object, ref } from '../openapi-schemas';
import { idempotencyKey } from '../idempotency';
import { int, noUnknown, uuid } from '../validation';
import * as msg from '../../core/messages';
import { equalShares } from '../../core/split';
import { claimTable, dropClaim } from '../../db/floor';
import { getOrder, updateOrder, uuidFromKey } from '../order-service';
import { conflict } from '../errors';
import type { AppDeps, AuthContext } from '../types';

const orderParams = yup.object({ id: uuid().required() });
const splitBody = noUnknown(
  yup.object({
    lines: yup
      .array(noUnknown(yup.object({ lineId: uuid().required(), quantity: int().min(1).max(999).required() })))
      .min(1)
      .max(200)
      .required(),
  }),
);

/**
 * Splits by items: the new order shares the table (a second check, outside the one-order rule),
 * so its claim is written first and dropped again if the order refuses the split.
 */
async function split(
  deps: AppDeps,
  auth: AuthContext,
  orderId: string,
  lines: { lineId: string; quantity: number }[],
  key?: string,
) {
  const newOrderId = key ? uuidFromKey(`split:${auth.locationId}:${orderId}:${key}`) : randomUUID();
  const current = await getOrder(deps, auth, orderId);
  // Before the claim: an ended order's table may be gone (deleted once freed), and the order
  // would refuse the split anyway.
  if (current.status !== 'open') throw conflict(`Order is ${current.status}`);
  if (current.tableId) {
    await deps.knex.transaction((trx) =>
      claimTable(trx, { orderId: newOrderId, locationId: auth.locationId, tableId: current.tableId!, newCheck: true }),
    );
  }
  try {
    const { original, newOrderId: created } = await updateOrder(
      deps,
      auth,
      orderId,
      msg.splitUpdate,
      { newOrderId, lines },
      key,
    );
    const order = await updateOrder(deps, auth, created, msg.openOrderUpdate, {});
    return { order, original };
  } catch (err) {
    if (current.tableId && !(await deps.knex('orders').where({ id: newOrderId }).first('id')))
      await dropClaim(deps.knex, newOrderId);
    throw err;
  }
}

export function splitRoutes(): AnyRoute[] {
  return [
    route({
      method: 'post',
      path: '/api/v1/orders/:id/split',
      tag: 'Orders',
      roles: CASHIER,
      summary:
        'Split by items: move these line quantities to a new open order (own number; same table, staff and customer; discounts stay here), atomically. Only while no payment has succeeded or is pending (409). Honours Idempotency-Key.',
      params: orderParams,
      body: splitBody,
      responses: {
        201: json(
          '{order: the new order, original: what is left}',
          object({ order: ref('Order'), original: ref('Order') }),
        ),
      },
      errors: [404, 409],
      handler: async ({ params, body, auth, deps, ctx }) => {
        const result = await split(deps, auth, params.id, body.lines, idempotencyKey(ctx));
        ctx.status = 201;
        return result;
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/orders/:id/split',
      tag: 'Orders',
      roles: CASHIER,
      summary:
        'Equal shares: N amounts summing exactly to the balance (the remainder cents go to the first shares); pay each as an ordinary payment',
      params: orderParams,
      query: yup.object({ parts: yup.number().integer().min(1).max(100).required() }),
      responses: {
        200: json(
          '{balance, parts, amounts}',
          object({
            balance: { type: 'integer' },
            parts: { type: 'integer' },
            amounts: { type: 'array', items: { type: 'integer' } },
          }),
        ),
      },
      handler: async ({ params, query, auth, deps }) => {
        const order = await getOrder(deps, auth, params.id);
        return {
          balance: order.totals.balance,
          parts: query.parts,
          amounts: equalShares(order.totals.balance, query.parts),
        };
      },
    }),
  ];
}
