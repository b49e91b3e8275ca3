import * as yup from 'yup';
import type { Knex } from 'knex';
import { json, route, MANAGER, type AnyRoute } from '../route';
import { listOf, ref } from '../openapi-schemas';
import { notFound } from '../errors';
import { idParams, name, noUnknown, nonEmpty } from '../validation';
import { newDeviceToken } from '../auth';
import { audit, changedFields } from '../audit';
import { assertCategories, stationCategories } from './printers';

const TAG = 'Kitchen screens';

/**
 * Where a screen was found (`/devices/discover` gives host, port and url): stored for the
 * manager's list only. The server never connects to it (screens connect to /ws), so it is no
 * SSRF path; the pattern keeps it a plain http(s) URL.
 */
const SCREEN_ADDRESS = /^https?:\/\/[A-Za-z0-9._-]{1,253}(:[0-9]{1,5})?(\/[!-~]*)?$/;

const screenFields = {
  name: name().max(80),
  address: yup
    .string()
    .strict()
    .max(300)
    .matches(SCREEN_ADDRESS, '${path} must look like http://192.168.1.60:8080 (the url discovery found)')
    .nullable(),
  categoryIds: stationCategories,
};
const screenCreate = noUnknown(yup.object({ ...screenFields, name: screenFields.name.required() }));
const screenPatch = nonEmpty(noUnknown(yup.object(screenFields)));

type ScreenRow = {
  id: string;
  name: string;
  address: string | null;
  category_ids: string[] | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date | null;
};
const COLUMNS = ['id', 'name', 'address', 'category_ids', 'created_by', 'created_at', 'updated_at'];
/** A screen as listed: `topic` is what it subscribes to on /ws. */
const viewAt = (locationId: string) => (s: ScreenRow) => ({
  id: s.id,
  name: s.name,
  address: s.address,
  categoryIds: s.category_ids?.length ? s.category_ids : null,
  topic: `kitchen:${locationId}:${s.id}`,
  createdBy: s.created_by,
  createdAt: new Date(s.created_at).toISOString(),
  updatedAt: new Date(s.updated_at ?? s.created_at).toISOString(),
});

const liveScreen = (knex: Knex, locationId: string, id: string) =>
  knex('devices').where({ id, location_id: locationId, kind: 'kitchen_screen' }).whereNull('revoked_at');

async function findScreen(knex: Knex, locationId: string, id: string): Promise<ScreenRow> {
  const row = await liveScreen(knex, locationId, id).first(COLUMNS);
  if (!row) throw notFound('Kitchen screen');
  return row;
}

const listScreens = route({
  method: 'get',
  path: '/api/v1/kitchen-screens',
  summary: 'List the kitchen screens that hold a live device token',
  tag: TAG,
  roles: MANAGER,
  responses: { 200: json('KitchenScreen[]', listOf('KitchenScreen')) },
  handler: async ({ auth, deps }) => {
    const rows = await deps
      .knex('devices')
      .where({ location_id: auth.locationId, kind: 'kitchen_screen' })
      .whereNull('revoked_at')
      .orderBy(['name', 'id'])
      .select(COLUMNS);
    return rows.map(viewAt(auth.locationId));
  },
});

const registerScreen = route({
  method: 'post',
  path: '/api/v1/kitchen-screens',
  summary:
    'Register a kitchen screen (e.g. one GET /devices/discover found: its url as address). The response carries its device token, shown this once: the screen connects with /ws?token=<token>, subscribes to its topic and bumps with POST /orders/:id/ready.',
  tag: TAG,
  roles: MANAGER,
  body: screenCreate,
  responses: { 201: json('KitchenScreen plus its token (shown only here)', ref('KitchenScreenIssued')) },
  handler: async ({ body, auth, deps, ctx }) => {
    const { token, hash } = newDeviceToken();
    const row = await deps.knex.transaction(async (trx) => {
      await assertCategories(trx, auth.locationId, body.categoryIds);
      const [created] = await trx('devices')
        .insert({
          location_id: auth.locationId,
          kind: 'kitchen_screen',
          name: body.name,
          address: body.address ?? null,
          category_ids: body.categoryIds?.length ? body.categoryIds : null,
          token_hash: hash,
          created_by: auth.staffId,
        })
        .returning(COLUMNS);
      await audit(trx, auth, 'kitchen_screen.issued', created.id, { categoryIds: body.categoryIds ?? null });
      return created as ScreenRow;
    });
    ctx.status = 201;
    return { ...viewAt(auth.locationId)(row), token };
  },
});

const showScreen = route({
  method: 'get',
  path: '/api/v1/kitchen-screens/:id',
  summary: 'One kitchen screen',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  responses: { 200: json('KitchenScreen', ref('KitchenScreen')) },
  handler: async ({ params, auth, deps }) =>
    viewAt(auth.locationId)(await findScreen(deps.knex, auth.locationId, params.id)),
});

const changeScreen = route({
  method: 'patch',
  path: '/api/v1/kitchen-screens/:id',
  summary: 'Rename a kitchen screen, or change its address or categories (its token stays)',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  body: screenPatch,
  responses: { 200: json('KitchenScreen', ref('KitchenScreen')) },
  handler: async ({ params, body, auth, deps }) =>
    deps.knex.transaction(async (trx) => {
      const before = await findScreen(trx, auth.locationId, params.id);
      await assertCategories(trx, auth.locationId, body.categoryIds);
      const changes = {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.address !== undefined ? { address: body.address } : {}),
        ...(body.categoryIds !== undefined ? { category_ids: body.categoryIds?.length ? body.categoryIds : null } : {}),
      };
      const [after] = await liveScreen(trx, auth.locationId, params.id)
        .update({ ...changes, updated_at: trx.fn.now() })
        .returning(COLUMNS);
      const view = viewAt(auth.locationId);
      const diff = changedFields(view(before), view(after));
      if (diff) await audit(trx, auth, 'kitchen_screen.updated', params.id, diff);
      return view(after);
    }),
});

const revokeScreen = route({
  method: 'delete',
  path: '/api/v1/kitchen-screens/:id',
  summary: 'Revoke a kitchen screen: its token stops working and its open sockets close (4401)',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  responses: { 204: 'revoked' },
  handler: async ({ params, auth, deps, ctx }) => {
    const n = await liveScreen(deps.knex, auth.locationId, params.id).update({ revoked_at: deps.knex.fn.now() });
    if (!n) throw notFound('Kitchen screen');
    deps.sessions?.revoked(params.id);
    await audit(deps.knex, auth, 'kitchen_screen.revoked', params.id);
    ctx.status = 204;
    return undefined;
  },
});

/**
 * Kitchen screens are devices: each has its own token (shown once, stored as a SHA-256 hash like
 * a display's), may subscribe only to `kitchen:<locationId>:<screenId>` (its categories' lines)
 * and bump its own lines with `POST /orders/:id/ready`. Revoking one closes its sockets (4401).
 */
export function kitchenScreensRoutes(): AnyRoute[] {
  return [listScreens, registerScreen, showScreen, changeScreen, revokeScreen];
}
