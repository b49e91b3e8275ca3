import * as yup from 'yup';
import { bool, defined, idParams, int4, name, noUnknown, nonEmpty } from '../validation';
import { json, route, CASHIER, MANAGER, type AnyRoute } from '../route';
import { listOf, ref as schemaRef } from '../openapi-schemas';
import { auditedTable } from '../audited-table';
import { DiscountGroup } from '../../db/models/discount';

const TAG = 'Discounts';
const G = '/api/v1/discount-groups';

const groupFields = { name: name(), available: bool(), sortOrder: int4() };
const groupCreate = noUnknown(yup.object({ ...groupFields, name: name().required() }));
const groupPatch = nonEmpty(noUnknown(yup.object(groupFields)));

export const groupView = (g: DiscountGroup) => ({
  id: g.id,
  name: g.name,
  available: g.available,
  sortOrder: g.sortOrder,
  createdAt: g.createdAt,
  updatedAt: g.updatedAt,
});

const groups = auditedTable({
  model: DiscountGroup,
  label: 'Discount group',
  entity: 'discount_group',
  view: groupView,
});

/** Groups gather discounts on the terminal; one switched off (`available: false`) takes all its discounts off. */
export function discountGroupRoutes(): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: G,
      summary: 'List discount groups (sortOrder, then name)',
      tag: TAG,
      roles: CASHIER,
      responses: { 200: json('DiscountGroup[]', listOf('DiscountGroup')) },
      handler: async ({ auth, deps }) =>
        (
          await DiscountGroup.query(deps.knex)
            .where('location_id', auth.locationId)
            .orderBy(['sort_order', 'name', 'id'])
        ).map(groupView),
    }),
    route({
      method: 'post',
      path: G,
      summary: 'Create a discount group',
      tag: TAG,
      roles: MANAGER,
      body: groupCreate,
      responses: { 201: json('DiscountGroup', schemaRef('DiscountGroup')) },
      handler: async ({ body, auth, deps, ctx }) => {
        const g = await groups.create(deps.knex, auth, defined(body));
        ctx.status = 201;
        return g;
      },
    }),
    route({
      method: 'get',
      path: `${G}/:id`,
      summary: 'Get a discount group',
      tag: TAG,
      roles: CASHIER,
      params: idParams,
      responses: { 200: json('DiscountGroup', schemaRef('DiscountGroup')) },
      handler: async ({ params, auth, deps }) => groupView(await groups.find(deps.knex, auth.locationId, params.id)),
    }),
    route({
      method: 'patch',
      path: `${G}/:id`,
      summary:
        'Change a discount group (available: false refuses its discounts on orders and hides them from the menu)',
      tag: TAG,
      roles: MANAGER,
      params: idParams,
      body: groupPatch,
      responses: { 200: json('DiscountGroup', schemaRef('DiscountGroup')) },
      handler: async ({ params, body, auth, deps }) => groups.change(deps.knex, auth, params.id, defined(body)),
    }),
    route({
      method: 'delete',
      path: `${G}/:id`,
      summary: 'Delete a discount group; its discounts stay, ungrouped (groupId null)',
      tag: TAG,
      roles: MANAGER,
      params: idParams,
      responses: { 204: 'deleted' },
      handler: async ({ params, auth, deps, ctx }) => {
        await groups.remove(deps.knex, auth, params.id);
        ctx.status = 204;
        return undefined;
      },
    }),
  ];
}
