import * as yup from 'yup';
import { json, route, MANAGER, type AnyRoute } from '../route';
import { ref as component } from '../openapi-schemas';
import { notFound } from '../errors';
import { conflictOnUnique, idParams, name, noUnknown } from '../validation';
import { newDeviceToken } from '../auth';

const TAG = 'Devices';

/** A terminal id as orders carry it (`terminalId`), naming the till a display stands at. */
export const TERMINAL_ID = /^[A-Za-z0-9._:-]{1,64}$/;

const displayCreate = noUnknown(
  yup.object({
    name: name().max(80).required(),
    terminalId: yup.string().strict().matches(TERMINAL_ID, 'terminalId: 1-64 letters, digits, . _ : -').required(),
  }),
);

type DisplayRow = { id: string; name: string; terminal_id: string; created_by: string | null; created_at: Date };
const displayView = (d: DisplayRow) => ({
  id: d.id,
  name: d.name,
  terminalId: d.terminal_id,
  createdBy: d.created_by,
  createdAt: new Date(d.created_at).toISOString(),
});
const COLUMNS = ['id', 'name', 'terminal_id', 'created_by', 'created_at'];

const listDisplays = route({
  method: 'get',
  path: '/api/v1/displays',
  summary: 'List the customer displays that hold a live device token',
  tag: TAG,
  roles: MANAGER,
  responses: { 200: json('{displays: [{id, name, terminalId, createdBy, createdAt}]}', component('DisplayList')) },
  handler: async ({ auth, deps }) => {
    const rows = await deps
      .knex('devices')
      .where({ location_id: auth.locationId, kind: 'display' })
      .whereNull('revoked_at')
      .orderBy(['terminal_id', 'id'])
      .select(COLUMNS);
    return { displays: rows.map(displayView) };
  },
});

const registerDisplay = route({
  method: 'post',
  path: '/api/v1/displays',
  summary:
    'Register the customer display of a terminal. The response carries its device token, shown this once: the display connects with /ws?token=<token> and may subscribe only to display:<terminalId>. One live display per terminal (409 otherwise; revoke the old one first).',
  tag: TAG,
  roles: MANAGER,
  body: displayCreate,
  responses: {
    201: json(
      '{id, name, terminalId, createdBy, createdAt, token}: the token is shown only here',
      component('DisplayIssued'),
    ),
  },
  errors: [409],
  handler: async ({ body, auth, deps, ctx }) => {
    const { token, hash } = newDeviceToken();
    const [row] = await deps
      .knex('devices')
      .insert({
        location_id: auth.locationId,
        kind: 'display',
        name: body.name,
        terminal_id: body.terminalId,
        token_hash: hash,
        created_by: auth.staffId,
      })
      .returning(COLUMNS)
      .catch(conflictOnUnique({ devices_one_live_display: 'This terminal already has a display; revoke it first' }));
    await deps.knex('audit_log').insert({
      location_id: auth.locationId,
      staff_id: auth.staffId,
      action: 'display.issued',
      subject: row.id,
      data: { terminalId: body.terminalId },
    });
    ctx.status = 201;
    return { ...displayView(row), token };
  },
});

const revokeDisplay = route({
  method: 'delete',
  path: '/api/v1/displays/:id',
  summary: 'Revoke a display: its token stops working and its open sockets close (4401)',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  responses: { 204: 'revoked' },
  handler: async ({ params, auth, deps, ctx }) => {
    const n = await deps
      .knex('devices')
      .where({ id: params.id, location_id: auth.locationId, kind: 'display' })
      .whereNull('revoked_at')
      .update({ revoked_at: deps.knex.fn.now() });
    if (!n) throw notFound('Display');
    deps.sessions?.revoked(params.id);
    await deps.knex('audit_log').insert({
      location_id: auth.locationId,
      staff_id: auth.staffId,
      action: 'display.revoked',
      subject: params.id,
    });
    ctx.status = 204;
    return undefined;
  },
});

/**
 * Customer display devices. A display authenticates with its own token (never a staff login) and
 * may only subscribe to `display:<its terminalId>` on /ws, where it gets the display view.
 */
export function displaysRoutes(): AnyRoute[] {
  return [listDisplays, registerDisplay, revokeDisplay];
}
