import * as yup from 'yup';
import { randomUUID } from 'node:crypto';
import { json, route, KITCHEN } from '../route';
import { ref } from '../openapi-schemas';
import { ApiError, unauthenticated, fieldError } from '../errors';
import { pin, uuid, noUnknown } from '../validation';
import { pinLookup, signToken, verifyPin } from '../security';
import type { AppDeps } from '../types';

export const LOCKOUT = { failures: 5, windowMs: 5 * 60_000, lockMs: 5 * 60_000 };

/**
 * Five wrong PINs within five minutes lock the client out for five minutes after the fifth.
 * Failures live in Postgres so every API replica sees the same count.
 */
export async function lockedUntil(deps: AppDeps, clientKey: string): Promise<Date | undefined> {
  const since = new Date(Date.now() - LOCKOUT.windowMs - LOCKOUT.lockMs);
  const times: Date[] = (
    await deps.knex('login_failures').where('client_key', clientKey).where('at', '>', since).orderBy('at', 'asc').pluck('at')
  ).map((t: string | Date) => new Date(t));
  let until: Date | undefined;
  for (let i = LOCKOUT.failures - 1; i < times.length; i++) {
    const first = times[i - LOCKOUT.failures + 1]!;
    const last = times[i]!;
    if (last.getTime() - first.getTime() <= LOCKOUT.windowMs) {
      const end = new Date(last.getTime() + LOCKOUT.lockMs);
      if (end.getTime() > Date.now() && (!until || end > until)) until = end;
    }
  }
  return until;
}

export function lockedOut(until: Date): ApiError {
  const seconds = Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000));
  return new ApiError(429, 'LOCKED_OUT', `Too many wrong PINs; try again in ${seconds} s`, undefined, { 'Retry-After': String(seconds) });
}

/** Records a wrong PIN from this client; returns the error to throw (429 once that locks it out, else 401). */
export async function recordFailure(deps: AppDeps, clientKey: string, action = 'login'): Promise<ApiError> {
  await deps.knex('login_failures').insert({ client_key: clientKey });
  const nowLocked = await lockedUntil(deps, clientKey);
  if (nowLocked) return lockedOut(nowLocked);
  deps.logger.info({ clientKey }, `${action} failed: wrong PIN`);
  return unauthenticated('Wrong PIN');
}

/** Finds the active staff member with this PIN (optionally at one location); PIN checked with the slow hash. */
export async function staffByPin(deps: AppDeps, pinValue: string, locationId?: string) {
  const q = deps.knex('staff').where({ pin_lookup: pinLookup(deps.config.tokenSecret, pinValue), active: true }).whereNull('deleted_at');
  if (locationId) q.where('location_id', locationId);
  const rows = await q.select('id', 'location_id', 'name', 'role', 'pin_hash', 'hourly_rate');
  if (rows.length > 1) throw fieldError('locationId', 'This PIN exists at several locations: send locationId');
  const row = rows[0];
  if (!row || !(await verifyPin(pinValue, row.pin_hash))) return undefined;
  return row as { id: string; location_id: string; name: string; role: string; hourly_rate: number };
}

export function authRoutes() {
  return [
    route({
      method: 'post',
      path: '/api/v1/auth/login',
      summary: 'Log in with a 4-digit staff PIN',
      tag: 'Auth',
      roles: 'public',
      body: noUnknown(yup.object({ pin: pin().required(), locationId: uuid().optional() })),
      responses: { 200: json('{token, expiresAt, staff: {id, name, role, locationId}}', ref('Session')) },
      errors: [401, 429],
      handler: async ({ body, deps, ctx }) => {
        const clientKey = ctx.ip || 'unknown';
        const until = await lockedUntil(deps, clientKey);
        if (until) throw lockedOut(until);
        const staff = await staffByPin(deps, body.pin, body.locationId);
        if (!staff) throw await recordFailure(deps, clientKey);
        const sessionId = randomUUID();
        const expiresAt = new Date(Date.now() + deps.config.tokenTtlSeconds * 1000);
        // Failures are not cleared by a success: otherwise someone could interleave their own PIN
        // with guesses at a colleague's and never be locked out. They age out after the window.
        await deps.knex('sessions').insert({ id: sessionId, staff_id: staff.id, location_id: staff.location_id, expires_at: expiresAt });
        const token = await signToken(deps.config.tokenSecret, { sessionId, staffId: staff.id, locationId: staff.location_id }, expiresAt);
        deps.logger.info({ staffId: staff.id, role: staff.role }, 'login');
        return {
          token,
          expiresAt: expiresAt.toISOString(),
          staff: { id: staff.id, name: staff.name, role: staff.role, locationId: staff.location_id },
        };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/logout',
      summary: 'End this session; the token stops working',
      tag: 'Auth',
      roles: KITCHEN,
      responses: { 204: 'logged out' },
      handler: async ({ auth, deps, ctx }) => {
        await deps.knex('sessions').where('id', auth.sessionId).update({ revoked_at: deps.knex.fn.now() });
        ctx.status = 204;
        return undefined;
      },
    }),
  ];
}
