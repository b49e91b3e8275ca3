import * as yup from 'yup';
import type { Knex } from 'knex';
import { json, route, OWNER, type AnyRoute } from '../route';
import { listOf, ref } from '../openapi-schemas';
import { conflict, notFound } from '../errors';
import { idParams, nonEmpty, noUnknown } from '../validation';
import { settingsOf } from '../settings-read';
import { audit, changedFields } from '../audit';
import { Location } from '../../db/models/location';
import type { AuthContext } from '../types';
import { settingsChanges, settingsFields } from './settings';

const createBody = noUnknown(yup.object({ ...settingsFields, name: settingsFields.name.required() }));
const patchBody = nonEmpty(noUnknown(yup.object(settingsFields)));

/** A location as owners see it: its settings, its organisation and whether it is still active. */
const locationView = (loc: Location) => ({
  ...settingsOf(loc),
  organisationId: loc.organisationId,
  active: loc.active,
});

/** A location of the owner's organisation (deactivated ones too), or 404. */
async function findLocation(db: Knex, auth: AuthContext, id: string): Promise<Location> {
  const loc = await Location.query(db).findOne({ id, organisation_id: auth.organisationId ?? null });
  if (!loc) throw notFound('Location');
  return loc;
}

const listLocations = route({
  method: 'get',
  path: '/api/v1/locations',
  summary: "The organisation's locations (deactivated ones too, with active false)",
  tag: 'Locations',
  roles: OWNER,
  responses: { 200: json('[Location]', listOf('Location')) },
  handler: async ({ auth, deps }) => {
    const rows = await Location.query(deps.knex)
      .where('organisation_id', auth.organisationId ?? null)
      .orderBy(['created_at', 'id']);
    return rows.map(locationView);
  },
});

const openLocation = route({
  method: 'post',
  path: '/api/v1/locations',
  summary:
    'Open a location: its name and any settings (the rest take their defaults); it starts with no catalog or staff',
  tag: 'Locations',
  roles: OWNER,
  body: createBody,
  responses: { 201: json('Location', ref('Location')) },
  handler: async ({ body, auth, deps, ctx }) => {
    return deps.knex.transaction(async (trx) => {
      const loc = await Location.query(trx)
        .insert({ ...settingsChanges(body), organisationId: auth.organisationId })
        .returning('*');
      await audit(trx, auth, 'location.created', loc.id, { after: locationView(loc) });
      ctx.status = 201;
      return locationView(loc);
    });
  },
});

const showLocation = route({
  method: 'get',
  path: '/api/v1/locations/:id',
  summary: 'One location of the organisation',
  tag: 'Locations',
  roles: OWNER,
  params: idParams,
  responses: { 200: json('Location', ref('Location')) },
  handler: async ({ params, auth, deps }) => locationView(await findLocation(deps.knex, auth, params.id)),
});

const changeLocation = route({
  method: 'patch',
  path: '/api/v1/locations/:id',
  summary: "Change a location's name or settings (only the fields sent)",
  tag: 'Locations',
  roles: OWNER,
  params: idParams,
  body: patchBody,
  responses: { 200: json('Location', ref('Location')) },
  handler: async ({ params, body, auth, deps }) =>
    deps.knex.transaction(async (trx) => {
      const before = await findLocation(trx, auth, params.id);
      const [loc] = await Location.query(trx).where('id', before.id).patch(settingsChanges(body)).returning('*');
      const diff = changedFields(locationView(before), locationView(loc!));
      if (diff) await audit(trx, auth, 'location.changed', before.id, diff);
      return locationView(loc!);
    }),
});

const deactivateLocation = route({
  method: 'delete',
  path: '/api/v1/locations/:id',
  summary: "Deactivate a location (not the owner's own): its sessions end, its orders and reports stay",
  tag: 'Locations',
  roles: OWNER,
  params: idParams,
  responses: { 204: 'deactivated' },
  errors: [409],
  handler: async ({ params, auth, deps, ctx }) => {
    await deps.knex.transaction(async (trx) => {
      const loc = await findLocation(trx, auth, params.id);
      if (loc.id === (await homeLocation(trx, auth))) throw conflict("An owner's own location cannot be deactivated");
      if (!loc.active) return;
      await Location.query(trx).where('id', loc.id).patch({ active: false });
      // Staff sessions and display devices: revoking notifies every replica (the *_revoked triggers), so cached tokens end too.
      for (const table of ['sessions', 'devices'])
        await trx(table).where('location_id', loc.id).whereNull('revoked_at').update({ revoked_at: trx.fn.now() });
      await audit(trx, auth, 'location.deactivated', loc.id);
    });
    deps.sessions?.dropWhere((a) => a.locationId === params.id);
    ctx.status = 204;
    return undefined;
  },
});

/**
 * Owners manage the locations of their organisation. A new one starts empty: its own catalog,
 * staff, settings and order numbers (every table is keyed by location). DELETE deactivates it:
 * its staff can no longer log in or work there, its orders and reports stay.
 */
export function locationsRoutes(): AnyRoute[] {
  return [listLocations, openLocation, showLocation, changeLocation, deactivateLocation];
}

/** The location the owner's staff row belongs to (auth.locationId may be the one picked for this request). */
async function homeLocation(db: Knex, auth: AuthContext): Promise<string | undefined> {
  const row = await db('staff').where('id', auth.staffId).first('location_id');
  return row?.location_id;
}
