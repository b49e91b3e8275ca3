import * as yup from 'yup';
import type { Knex } from 'knex';
import { json, route, CASHIER, MANAGER, type AnyRoute } from '../route';
import { listOf, ref } from '../openapi-schemas';
import { audit, changedFields } from '../audit';
import { conflict, notFound } from '../errors';
import { bool, conflictOnUnique, count, defined, idParams, name, noUnknown, nonEmpty, text } from '../validation';
import { publishTablesUpdated, tableViews, type TableView } from '../../db/floor';
import type { AuthContext } from '../types';

const TAG = 'Tables';
const fields = {
  name: name().max(20, '${path} may be at most 20 characters'),
  seats: count().max(1000),
  area: text(80).nullable(),
  sortOrder: count(),
  active: bool(),
};
const createBody = noUnknown(yup.object({ ...fields, name: fields.name.required() }));
const patchBody = nonEmpty(noUnknown(yup.object(fields)));
const nameTaken = conflictOnUnique({ tables_location_name_unique: 'A table with this name already exists' });

const columns = (b: Partial<yup.InferType<typeof createBody>>) =>
  defined({ name: b.name, seats: b.seats, area: b.area, sort_order: b.sortOrder, active: b.active });

async function findTable(db: Knex | Knex.Transaction, auth: AuthContext, id: string): Promise<TableView> {
  const [t] = await tableViews(db, auth.locationId, [id]);
  if (!t) throw notFound('Table');
  return t;
}

const listTables = route({
  method: 'get',
  path: '/api/v1/tables',
  tag: TAG,
  roles: CASHIER,
  summary:
    'The floor: every table with `status` free|occupied and its `openOrderIds` (live; changes are published as `table.updated` on orders:<locationId>)',
  responses: { 200: json('Table[]', listOf('Table')) },
  handler: async ({ auth, deps }) => tableViews(deps.knex, auth.locationId),
});

const showTable = route({
  method: 'get',
  path: '/api/v1/tables/:id',
  tag: TAG,
  roles: CASHIER,
  summary: 'A table with its open orders',
  params: idParams,
  responses: { 200: json('Table', ref('Table')) },
  handler: async ({ params, auth, deps }) => findTable(deps.knex, auth, params.id),
});

const addTable = route({
  method: 'post',
  path: '/api/v1/tables',
  tag: TAG,
  roles: MANAGER,
  summary: 'Add a table (name unique per location)',
  body: createBody,
  responses: { 201: json('Table', ref('Table')) },
  errors: [409],
  handler: async ({ body, auth, deps, ctx }) => {
    const t = await deps.knex.transaction(async (trx) => {
      const [row] = await trx('tables')
        .insert({ ...columns(body), location_id: auth.locationId })
        .returning('id')
        .catch(nameTaken);
      const view = await findTable(trx, auth, row.id);
      await audit(trx, auth, 'table.created', view.id, { after: view });
      await publishTablesUpdated(trx, auth.locationId, [view.id]);
      return view;
    });
    ctx.status = 201;
    return t;
  },
});

const changeTable = route({
  method: 'patch',
  path: '/api/v1/tables/:id',
  tag: TAG,
  roles: MANAGER,
  summary: 'Change a table',
  params: idParams,
  body: patchBody,
  responses: { 200: json('Table', ref('Table')) },
  errors: [409],
  handler: async ({ params, body, auth, deps }) =>
    deps.knex.transaction(async (trx) => {
      const before = await findTable(trx, auth, params.id);
      await trx('tables')
        .where({ id: params.id })
        .update({ ...columns(body), updated_at: trx.fn.now() })
        .catch(nameTaken);
      const after = await findTable(trx, auth, params.id);
      const diff = changedFields(before, after);
      if (diff) await audit(trx, auth, 'table.changed', params.id, diff);
      await publishTablesUpdated(trx, auth.locationId, [params.id]);
      return after;
    }),
});

const removeTable = route({
  method: 'delete',
  path: '/api/v1/tables/:id',
  tag: TAG,
  roles: MANAGER,
  summary: 'Remove a table (409 while it has open orders)',
  params: idParams,
  responses: { 204: 'deleted' },
  errors: [409],
  handler: async ({ params, auth, deps, ctx }) => {
    await deps.knex.transaction(async (trx) => {
      await trx('tables').where({ id: params.id, location_id: auth.locationId }).forUpdate().first('id');
      const before = await findTable(trx, auth, params.id);
      if (before.status === 'occupied') throw conflict('This table has open orders: close or move them first');
      await trx('tables').where({ id: params.id }).delete();
      await audit(trx, auth, 'table.deleted', params.id, { before });
    });
    ctx.status = 204;
    return undefined;
  },
});

/** Tables of the floor (CRUD for managers) and the live floor view (free/occupied with open orders). */
export function tablesRoutes(): AnyRoute[] {
  return [listTables, showTable, addTable, changeTable, removeTable];
}
