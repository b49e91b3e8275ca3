import * as yup from 'yup';
import type { Knex } from 'knex';
import { json, route, MANAGER, KITCHEN } from '../route';
import { listOf, object, ref } from '../openapi-schemas';
import { ApiError, conflict, fieldError, forbidden, notFound } from '../errors';
import { bool, idParams, money, noUnknown, nonBlank, nonEmpty } from '../validation';
import { maxPinDigits, roleRank } from '../security';
import { hashPin, pinLookup } from '../../db/pins';
import { consume, limiters } from '../rate-limit';
import { pinField } from './auth';
import type { AnyRoute } from '../route';
import type { AppDeps, AuthContext } from '../types';
import type { Role } from '../../core/roles';
import { StaffModel, staffView } from '../../db/models/staff';
import { ShiftModel, shiftView } from '../../db/models/shift';
import { closeOpenShift, isUniqueViolation } from './staff-shifts';

const ROLES: Role[] = ['owner', 'admin', 'manager', 'cashier', 'kitchen'];

const fields = {
  name: nonBlank(100),
  role: yup.string().strict().oneOf(ROLES, 'role must be one of: ${values}'),
  pin: pinField(),
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
).meta({
  // The PIN length depends on the role: stated here too (yup's cross-field rule does not reach the spec).
  jsonSchema: {
    if: { properties: { role: { not: { enum: ['admin', 'owner'] } } }, required: ['role'] },
    then: { properties: { pin: { pattern: '^\\d{4}$' } } },
  },
});

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

/** Nobody changes someone ranked above them or gives a role above their own (owner > admin > manager > cashier > kitchen). */
function assertMayManage(auth: AuthContext, target: StaffModel | undefined, newRole: string | undefined) {
  const mine = roleRank(auth.role);
  if (target && roleRank(target.role) > mine)
    throw forbidden(`Only someone ranked at least ${target.role} may change a ${target.role}`);
  if (newRole && roleRank(newRole) > mine)
    throw forbidden(`Only someone ranked at least ${newRole} may give the role ${newRole}`);
}

/** A PIN as long as the member's role allows: 4 digits, 4-8 for admin and owner. */
function assertPinLength(pinValue: string, role: string) {
  const max = maxPinDigits(role);
  if (pinValue.length > max) throw fieldError('pin', `A ${role}'s PIN must be exactly 4 digits`);
}

/** A PIN someone else at the location has: typed, so the caller can audit the refusal. */
class PinTaken extends ApiError {
  constructor() {
    super(409, 'CONFLICT', 'PIN already in use');
  }
}

/** Permission-changing actions are audited; PINs never appear in the rows. */
async function audit(db: Knex, auth: AuthContext, action: string, subject: string | undefined, data?: object) {
  await db('audit_log').insert({
    location_id: auth.locationId,
    staff_id: auth.staffId,
    action,
    subject,
    data: data ? JSON.stringify(data) : null,
  });
}

/**
 * Setting a PIN answers whether it is taken, so every attempt spends the actor's budget
 * (TILLFLOW_RATE_LIMIT_PIN_CHANGES per 10 minutes) and a refused one is audited: the answer is
 * not worth much to someone looking for a colleague's PIN.
 */
async function spendPinChange(deps: AppDeps, auth: AuthContext, pinValue: string, role: string) {
  assertPinLength(pinValue, role);
  await consume(limiters(deps).pinChanges, auth.staffId, 'Too many PIN changes');
}

async function auditRefusedPin<T>(
  deps: AppDeps,
  auth: AuthContext,
  subject: string | undefined,
  work: Promise<T>,
): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof PinTaken) await audit(deps.knex, auth, 'staff.pin_refused', subject);
    throw err;
  }
}

/** Audit rows for the permission-relevant parts of a PATCH (name and hourly rate are not). */
async function auditChanges(
  db: Knex,
  auth: AuthContext,
  before: StaffModel,
  body: { pin?: string; role?: string; active?: boolean },
) {
  if (body.pin !== undefined) await audit(db, auth, 'staff.pin_changed', before.id);
  if (body.role !== undefined && body.role !== before.role)
    await audit(db, auth, 'staff.role_changed', before.id, { from: before.role, to: body.role });
  if (body.active !== undefined && body.active !== before.active)
    await audit(db, auth, body.active ? 'staff.reactivated' : 'staff.deactivated', before.id);
}

/** 409 when another live staff member at this location has the PIN (never says who). */
async function pinColumns(db: Knex, deps: AppDeps, locationId: string, pinValue: string, exceptId?: string) {
  const lookup = pinLookup(deps.config.tokenSecret, pinValue);
  const q = StaffModel.query(db).where({ location_id: locationId, pin_lookup: lookup }).whereNull('deleted_at');
  if (exceptId) q.whereNot('id', exceptId);
  if (await q.first()) throw new PinTaken();
  return { pin_lookup: lookup, pin_hash: await hashPin(pinValue) };
}

/**
 * Ends every session of a staff member (their tokens get 401 from now on, also if they are
 * reactivated later). The caller's own session survives a change to their own PIN.
 */
async function revokeSessions(db: Knex, staffId: string, now: Date, keepSessionId?: string): Promise<void> {
  const q = db('sessions').where('staff_id', staffId).whereNull('revoked_at');
  if (keepSessionId) q.whereNot('id', keepSessionId);
  await q.update({ revoked_at: now });
}

/** Deactivation, a new PIN or a new role change who the token stands for: its sessions end. */
const endsSessions = (body: { active?: boolean; pin?: string; role?: string }) =>
  body.active === false || body.pin !== undefined || body.role !== undefined;

/** The partial unique index is the last word when two requests race for the same PIN. */
function pinRace(err: unknown): never {
  throw isUniqueViolation(err, 'staff_pin_per_location') ? new PinTaken() : err;
}

const listStaff = route({
  method: 'get',
  path: '/api/v1/staff',
  summary: 'List the staff of this location',
  tag: 'Staff',
  roles: MANAGER,
  responses: { 200: json('{staff: [Staff]}', object({ staff: listOf('Staff') })) },
  handler: async ({ auth, deps }) => {
    const rows = await StaffModel.query(deps.knex)
      .where('location_id', auth.locationId)
      .whereNull('deleted_at')
      .orderBy(['name', 'id']);
    return { staff: rows.map(staffView) };
  },
});

const addStaff = route({
  method: 'post',
  path: '/api/v1/staff',
  summary:
    'Add a staff member (PIN: 4 digits, 4-8 for admin; unique per location; stored hashed, never returned). PIN changes are limited per actor (429) and audited',
  tag: 'Staff',
  roles: MANAGER,
  body: createBody,
  responses: {
    201: json('Staff {id, locationId, name, role, hourlyRate, active, createdAt, updatedAt}', ref('Staff')),
  },
  errors: [409, 429],
  handler: async ({ body, auth, deps, ctx }) => {
    assertMayManage(auth, undefined, body.role);
    await spendPinChange(deps, auth, body.pin, body.role);
    const staff = await auditRefusedPin(
      deps,
      auth,
      undefined,
      deps.knex.transaction(async (trx) => {
        const row = await StaffModel.query(trx)
          .insert({
            location_id: auth.locationId,
            name: body.name,
            role: body.role as Role,
            hourly_rate: body.hourlyRate ?? 0,
            active: body.active ?? true,
            ...(await pinColumns(trx, deps, auth.locationId, body.pin)),
          })
          .returning('*')
          .catch(pinRace);
        await audit(trx, auth, 'staff.created', row.id, { role: row.role });
        return row;
      }),
    );
    ctx.status = 201;
    return staffView(staff);
  },
});

const showStaff = route({
  method: 'get',
  path: '/api/v1/staff/:id',
  summary: 'One staff member',
  tag: 'Staff',
  roles: MANAGER,
  params: idParams,
  responses: { 200: json('Staff', ref('Staff')) },
  handler: async ({ params, auth, deps }) => staffView(await findStaff(deps.knex, auth, params.id)),
});

const changeStaff = route({
  method: 'patch',
  path: '/api/v1/staff/:id',
  summary:
    'Change a staff member (any of name, role, pin, hourlyRate, active); a new PIN, role or deactivation ends their sessions. PIN changes are limited per actor (429) and audited',
  tag: 'Staff',
  roles: MANAGER,
  params: idParams,
  body: patchBody,
  responses: { 200: json('Staff', ref('Staff')) },
  errors: [409, 429],
  handler: async ({ params, body, auth, deps }) => {
    const work = deps.knex.transaction(async (trx) => {
      const staff = await findStaff(trx, auth, params.id);
      assertMayManage(auth, staff, body.role);
      if (body.active === false && staff.id === auth.staffId) throw conflict('You cannot deactivate yourself');
      if (body.pin !== undefined) await spendPinChange(deps, auth, body.pin, body.role ?? staff.role);
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
      const now = new Date();
      if (endsSessions(body)) await revokeSessions(trx, staff.id, now, auth.sessionId);
      // Someone deactivated can no longer clock out with their PIN: close what they left open.
      if (body.active === false) await closeOpenShift(trx, staff.id, now);
      await auditChanges(trx, auth, staff, body);
      return row;
    });
    const changed = await auditRefusedPin(deps, auth, params.id, work);
    if (endsSessions(body)) deps.sessions?.dropWhere((a) => a.staffId === params.id);
    return staffView(changed);
  },
});

const removeStaff = route({
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
      await revokeSessions(trx, staff.id, now);
      await closeOpenShift(trx, staff.id, now);
    });
    deps.sessions?.dropWhere((a) => a.staffId === params.id);
    ctx.status = 204;
    return undefined;
  },
});

const staffShifts = route({
  method: 'get',
  path: '/api/v1/staff/:id/shifts',
  summary:
    'Shifts overlapping [start, end) with worked minutes, break minutes and wage (manager+, or the staff member themself). ' +
    'start/end: ISO dates (whole UTC days, end inclusive) or datetimes; default the last 7 days.',
  tag: 'Staff',
  roles: KITCHEN,
  params: idParams,
  query: shiftsQuery,
  responses: {
    200: json(
      '{shifts: [{id, staffId, clockInAt, clockOutAt, breaks: [{startAt, endAt}], workedMinutes, breakMinutes, wage}], totals: {workedMinutes, breakMinutes, wage}}',
      ref('Shifts'),
    ),
  },
  handler: async ({ params, query, auth, deps }) => {
    if (!MANAGER.includes(auth.role) && params.id !== auth.staffId)
      throw forbidden('You may only read your own shifts');
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
      .where((q) => {
        q.where('clock_out_at', '>', new Date(start)).orWhereNull('clock_out_at');
      })
      .withGraphFetched('breaks')
      .orderBy('clock_in_at');
    const views = shifts.map((s) => shiftView(s, now));
    const sum = (k: 'workedMinutes' | 'breakMinutes' | 'wage') => views.reduce((t, v) => t + v[k], 0);
    return {
      shifts: views,
      totals: { workedMinutes: sum('workedMinutes'), breakMinutes: sum('breakMinutes'), wage: sum('wage') },
    };
  },
});

export function staffRoutes(): AnyRoute[] {
  return [listStaff, addStaff, showStaff, changeStaff, removeStaff, staffShifts];
}
