import * as yup from 'yup';
import type { Knex } from 'knex';
import { json, route, MANAGER, KITCHEN } from '../route';
import { listOf, object, ref } from '../openapi-schemas';
import { conflict, fieldError, forbidden, notFound } from '../errors';
import { bool, idParams, money, noUnknown, nonBlank, nonEmpty, pin } from '../validation';
import { hashPin, pinLookup } from '../security';
import type { AnyRoute } from '../route';
import type { AppDeps, AuthContext, Role } from '../types';
import { StaffModel, staffView } from '../../db/models/staff';
import { ShiftModel, shiftView } from '../../db/models/shift';
import { closeOpenShift, isUniqueViolation } from './staff-shifts';

const ROLES: Role[] = ['admin', 'manager', 'cashier', 'kitchen'];

const fields = {
  name: nonBlank(100),
  role: yup.string().strict().oneOf(ROLES, 'role must be one of: ${values}'),
  pin: pin(),
  hourlyRate: money(),
  active: bool(),
};

const createBody = noUnknown(
  yup.object({
    ...fields,
    name: fields.name.required(),
    role: fields.role.required(),
    pin: fields.pin.required(),
  }),
);

const patchBody = nonEmpty(noUnknown(yup.object(fields)));

/** ISO date (a whole UTC day) or ISO datetime (no offset means UTC). */
const ISO_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const DAY = 86_400_000;

/** Milliseconds since the epoch, or NaN for anything but a real ISO date/datetime (2024-02-30 included). */
function parseTime(v: string): number {
  const day = Date.parse(`${v.slice(0, 10)}T00:00:00Z`);
  if (!ISO_RE.test(v) || Number.isNaN(day) || new Date(day).toISOString().slice(0, 10) !== v.slice(0, 10)) return NaN;
  if (v.length === 10) return day;
  return Date.parse(/(Z|[+-]\d{2}:?\d{2})$/i.test(v) ? v : `${v}Z`);
}

const isoTime = () =>
  yup
    .string()
    .strict()
    .test('iso', '${path} must be an ISO-8601 date or datetime', (v) => v === undefined || !Number.isNaN(parseTime(v)))
    .meta({ jsonSchema: { anyOf: [{ format: 'date' }, { format: 'date-time' }] } });

const shiftsQuery = yup.object({ start: isoTime(), end: isoTime() });

/** The staff member at the caller's location (deleted ones do not exist), or 404. */
async function findStaff(db: Knex, auth: AuthContext, id: string): Promise<StaffModel> {
  const staff = await StaffModel.query(db).findOne({ id, location_id: auth.locationId }).whereNull('deleted_at');
  if (!staff) throw notFound('Staff member');
  return staff;
}

/** Only an admin may touch an admin or make someone an admin. */
function assertMayManage(auth: AuthContext, target: StaffModel | undefined, newRole: string | undefined) {
  if (auth.role === 'admin') return;
  if (target?.role === 'admin') throw forbidden('Only an admin may change an admin');
  if (newRole === 'admin') throw forbidden('Only an admin may make someone an admin');
}

/** 409 when another live staff member at this location has the PIN (never says who). */
async function pinColumns(db: Knex, deps: AppDeps, locationId: string, pinValue: string, exceptId?: string) {
  const lookup = pinLookup(deps.config.tokenSecret, pinValue);
  const q = StaffModel.query(db).where({ location_id: locationId, pin_lookup: lookup }).whereNull('deleted_at');
  if (exceptId) q.whereNot('id', exceptId);
  if (await q.first()) throw conflict('PIN already in use');
  return { pin_lookup: lookup, pin_hash: await hashPin(pinValue) };
}

/** The partial unique index is the last word when two requests race for the same PIN. */
function pinRace(err: unknown): never {
  throw isUniqueViolation(err, 'staff_pin_per_location') ? conflict('PIN already in use') : err;
}

export function staffRoutes(): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/staff',
      summary: 'List the staff of this location',
      tag: 'Staff',
      roles: MANAGER,
      responses: { 200: json('{staff: [Staff]}', object({ staff: listOf('Staff') })) },
      handler: async ({ auth, deps }) => {
        const rows = await StaffModel.query(deps.knex).where('location_id', auth.locationId).whereNull('deleted_at').orderBy(['name', 'id']);
        return { staff: rows.map(staffView) };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/staff',
      summary: 'Add a staff member (PIN: 4 digits, unique per location; stored hashed, never returned)',
      tag: 'Staff',
      roles: MANAGER,
      body: createBody,
      responses: { 201: json('Staff {id, locationId, name, role, hourlyRate, active, createdAt, updatedAt}', ref('Staff')) },
      errors: [409],
      handler: async ({ body, auth, deps, ctx }) => {
        assertMayManage(auth, undefined, body.role);
        const pinCols = await pinColumns(deps.knex, deps, auth.locationId, body.pin);
        const staff = await StaffModel.query(deps.knex)
          .insert({
            location_id: auth.locationId,
            name: body.name,
            role: body.role as Role,
            hourly_rate: body.hourlyRate ?? 0,
            active: body.active ?? true,
            ...pinCols,
          })
          .returning('*')
          .catch(pinRace);
        ctx.status = 201;
        return staffView(staff);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/staff/:id',
      summary: 'One staff member',
      tag: 'Staff',
      roles: MANAGER,
      params: idParams,
      responses: { 200: json('Staff', ref('Staff')) },
      handler: async ({ params, auth, deps }) => staffView(await findStaff(deps.knex, auth, params.id)),
    }),
    route({
      method: 'patch',
      path: '/api/v1/staff/:id',
      summary: 'Change a staff member (any of name, role, pin, hourlyRate, active)',
      tag: 'Staff',
      roles: MANAGER,
      params: idParams,
      body: patchBody,
      responses: { 200: json('Staff', ref('Staff')) },
      errors: [409],
      handler: async ({ params, body, auth, deps }) => {
        const updated = await deps.knex.transaction(async (trx) => {
          const staff = await findStaff(trx, auth, params.id);
          assertMayManage(auth, staff, body.role);
          if (body.active === false && staff.id === auth.staffId) throw conflict('You cannot deactivate yourself');
          const changes: Partial<StaffModel> = {
            ...(body.name !== undefined && { name: body.name }),
            ...(body.role !== undefined && { role: body.role as Role }),
            ...(body.hourlyRate !== undefined && { hourly_rate: body.hourlyRate }),
            ...(body.active !== undefined && { active: body.active }),
            ...(body.pin !== undefined && (await pinColumns(trx, deps, auth.locationId, body.pin, staff.id))),
          };
          const row = await StaffModel.query(trx)
            .patchAndFetchById(staff.id, { ...changes, updated_at: new Date() })
            .catch(pinRace);
          // Someone deactivated can no longer clock out with their PIN: close what they left open.
          if (body.active === false) await closeOpenShift(trx, staff.id, new Date());
          return row;
        });
        return staffView(updated);
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/staff/:id',
      summary: 'Remove a staff member (soft delete): their sessions end and they can no longer log in',
      tag: 'Staff',
      roles: MANAGER,
      params: idParams,
      responses: { 204: 'deleted' },
      errors: [409],
      handler: async ({ params, auth, deps, ctx }) => {
        if (params.id === auth.staffId) throw conflict('You cannot delete yourself');
        await deps.knex.transaction(async (trx) => {
          const staff = await findStaff(trx, auth, params.id);
          assertMayManage(auth, staff, undefined);
          const now = new Date();
          await StaffModel.query(trx).patchAndFetchById(staff.id, { deleted_at: now, active: false, updated_at: now });
          await trx('sessions').where('staff_id', staff.id).whereNull('revoked_at').update({ revoked_at: now });
          await closeOpenShift(trx, staff.id, now);
        });
        ctx.status = 204;
        return undefined;
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/staff/:id/shifts',
      summary:
        'Shifts overlapping [start, end) with worked minutes, break minutes and wage (manager+, or the staff member themself). ' +
        'start/end: ISO dates (whole UTC days, end inclusive) or datetimes; default the last 7 days.',
      tag: 'Staff',
      roles: KITCHEN,
      params: idParams,
      query: shiftsQuery,
      responses: { 200: json('{shifts: [{id, staffId, clockInAt, clockOutAt, breaks: [{startAt, endAt}], workedMinutes, breakMinutes, wage}], totals: {workedMinutes, breakMinutes, wage}}', ref('Shifts')) },
      handler: async ({ params, query, auth, deps }) => {
        if (!MANAGER.includes(auth.role) && params.id !== auth.staffId) throw forbidden('You may only read your own shifts');
        const staff = await findStaff(deps.knex, auth, params.id);
        const now = new Date();
        const end = query.end ? parseTime(query.end) : now.getTime();
        // A date-only end means through the end of that day.
        const until = query.end?.length === 10 ? end + DAY : end;
        const start = query.start ? parseTime(query.start) : until - 7 * DAY;
        if (end < start) throw fieldError('query.end', 'end must not be before start');
        const shifts = await ShiftModel.query(deps.knex)
          .where('staff_id', staff.id)
          .where('clock_in_at', '<', new Date(until))
          .where((q) => q.where('clock_out_at', '>', new Date(start)).orWhereNull('clock_out_at'))
          .withGraphFetched('breaks')
          .orderBy('clock_in_at');
        const views = shifts.map((s) => shiftView(s, now));
        const sum = (k: 'workedMinutes' | 'breakMinutes' | 'wage') => views.reduce((t, v) => t + v[k], 0);
        return { shifts: views, totals: { workedMinutes: sum('workedMinutes'), breakMinutes: sum('breakMinutes'), wage: sum('wage') } };
      },
    }),
  ];
}
