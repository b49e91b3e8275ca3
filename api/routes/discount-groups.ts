import * as yup from 'yup';
import type { Knex } from 'knex';
import { bool, defined, idParams, int4, name, noUnknown, nonEmpty } from '../validation';
import { json, route, CASHIER, MANAGER, type AnyRoute } from '../route';
import { listOf, ref as schemaRef } from '../openapi-schemas';
import { notFound } from '../errors';
import { audit, changedFields } from '../audit';
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

async function findGroup(knex: Knex, locationId: string, id: string, forUpdate = false): Promise<DiscountGroup> {
  const query = DiscountGroup.query(knex).findOne({ id, location_id: locationId });
  const g = await (forUpdate ? query.forUpdate() : query);
  if (!g) throw notFound('Discount group');
  return g;
}

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
        const g = await deps.knex.transaction(async (trx) => {
          const created = await DiscountGroup.query(trx)
            .insert({ ...defined(body), locationId: auth.locationId })
            .returning('*');
          await audit(trx, auth, 'discount_group.created', created.id, { after: groupView(created) });
          return created;
        });
        ctx.status = 201;
        return groupView(g);
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
      handler: async ({ params, auth, deps }) => groupView(await findGroup(deps.knex, auth.locationId, params.id)),
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
      handler: async ({ params, body, auth, deps }) =>
        deps.knex.transaction(async (trx) => {
          const existing = await findGroup(trx, auth.locationId, params.id, true);
          const [updated] = await DiscountGroup.query(trx).where('id', existing.id).patch(defined(body)).returning('*');
          const diff = changedFields(groupView(existing), groupView(updated!));
          if (diff) await audit(trx, auth, 'discount_group.changed', existing.id, diff);
          return groupView(updated!);
        }),
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
        await deps.knex.transaction(async (trx) => {
          const existing = await findGroup(trx, auth.locationId, params.id, true);
          await DiscountGroup.query(trx).where('id', existing.id).delete();
          await audit(trx, auth, 'discount_group.deleted', existing.id, { before: groupView(existing) });
        });
        ctx.status = 204;
        return undefined;
      },
    }),
  ];
}
