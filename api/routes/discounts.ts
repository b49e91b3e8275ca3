import * as yup from 'yup';
import { money, bool, defined, idParams, int4, name, noUnknown, nonEmpty, uuid } from '../validation';
import type { Knex } from 'knex';
import { json, route, CASHIER, MANAGER, type AnyRoute } from '../route';
import { listOf, ref as schemaRef } from '../openapi-schemas';
import { fieldError } from '../errors';
import { auditedTable } from '../audited-table';
import { Discount, DiscountGroup, type DiscountType } from '../../db/models/discount';
import { discountGroupRoutes } from './discount-groups';

const TAG = 'Discounts';

const discountFields = {
  name: name(),
  type: yup.string<DiscountType>().strict().oneOf(['percent', 'amount'], '${path} must be percent or amount'),
  value: money().min(1),
  groupId: uuid().nullable(),
  available: bool(),
  sortOrder: int4(),
};
const discountCreate = noUnknown(
  yup.object({
    ...discountFields,
    name: name().required(),
    type: discountFields.type.required(),
    value: money().min(1).required(),
  }),
).meta({
  jsonSchema: {
    if: { properties: { type: { const: 'percent' } } },
    then: { properties: { value: { maximum: 10000 } } },
  },
});
const discountPatch = nonEmpty(noUnknown(yup.object(discountFields)));

const discountView = (d: Discount) => ({
  id: d.id,
  name: d.name,
  type: d.type,
  value: d.value,
  groupId: d.groupId,
  available: d.available,
  sortOrder: d.sortOrder,
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});

/** percent values are basis points, so at most 10000 (100%); amounts are minor units. */
function assertValue(type: DiscountType, value: number) {
  if (type === 'percent' && value > 10000)
    throw fieldError('value', 'A percent discount is in basis points: 1..10000 (10000 = 100%)');
}

async function assertGroup(knex: Knex, locationId: string, groupId: string | null | undefined) {
  if (groupId && !(await DiscountGroup.query(knex).findOne({ id: groupId, location_id: locationId }))) {
    throw fieldError('groupId', 'groupId is not a discount group of this location');
  }
}

const discounts = auditedTable({ model: Discount, label: 'Discount', entity: 'discount', view: discountView });

export function discountsRoutes(): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/discounts',
      summary: 'List discounts (sortOrder, then name)',
      tag: TAG,
      roles: CASHIER,
      responses: { 200: json('Discount[]', listOf('Discount')) },
      handler: async ({ auth, deps }) =>
        (
          await Discount.query(deps.knex).where('location_id', auth.locationId).orderBy(['sort_order', 'name', 'id'])
        ).map(discountView),
    }),
    route({
      method: 'post',
      path: '/api/v1/discounts',
      summary: 'Create a discount (percent: value in basis points 1..10000; amount: minor units)',
      tag: TAG,
      roles: MANAGER,
      body: discountCreate,
      responses: { 201: json('Discount', schemaRef('Discount')) },
      handler: async ({ body, auth, deps, ctx }) => {
        assertValue(body.type, body.value);
        const d = await discounts.create(deps.knex, auth, defined(body), (trx) =>
          assertGroup(trx, auth.locationId, body.groupId),
        );
        ctx.status = 201;
        return d;
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/discounts/:id',
      summary: 'Get a discount',
      tag: TAG,
      roles: CASHIER,
      params: idParams,
      responses: { 200: json('Discount', schemaRef('Discount')) },
      handler: async ({ params, auth, deps }) =>
        discountView(await discounts.find(deps.knex, auth.locationId, params.id)),
    }),
    route({
      method: 'patch',
      path: '/api/v1/discounts/:id',
      summary: 'Change a discount',
      tag: TAG,
      roles: MANAGER,
      params: idParams,
      body: discountPatch,
      responses: { 200: json('Discount', schemaRef('Discount')) },
      handler: async ({ params, body, auth, deps }) =>
        discounts.change(deps.knex, auth, params.id, defined(body), async (trx, existing) => {
          assertValue(body.type ?? existing.type, body.value ?? existing.value);
          await assertGroup(trx, auth.locationId, body.groupId);
        }),
    }),
    route({
      method: 'delete',
      path: '/api/v1/discounts/:id',
      summary: 'Delete a discount (orders keep their copy)',
      tag: TAG,
      roles: MANAGER,
      params: idParams,
      responses: { 204: 'deleted' },
      handler: async ({ params, auth, deps, ctx }) => {
        await discounts.remove(deps.knex, auth, params.id);
        ctx.status = 204;
        return undefined;
      },
    }),
    ...discountGroupRoutes(),
  ];
}
