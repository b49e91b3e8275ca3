import * as yup from 'yup';
import { json, route, KITCHEN } from '../route';
import { ref } from '../openapi-schemas';
import { fieldError } from '../errors';
import { guardedPinCheck } from '../pin-guard';
import { uuid, noUnknown } from '../validation';
import { refreshGuard } from '../rate-limit';
import { REFRESH_TOKEN_RE, endSession, rotateRefreshToken, startSession } from '../refresh-tokens';
import { pinLookup, verifyPin } from '../../db/pins';
import type { AppDeps } from '../types';

/** A PIN as typed: 4 digits, or up to 8 for admins and owners (the role's own length is checked where PINs are set). */
export const pinField = () =>
  yup
    .string()
    .strict()
    .matches(/^\d{4,8}$/, { message: 'PIN must be 4 digits (4-8 for admin and owner)', excludeEmptyString: false });

/** The staff member a PIN belongs to, behind the lockout: 401 for a wrong PIN, 429 once locked out. */
export function staffByGuardedPin(
  deps: AppDeps,
  ctx: { ip: string },
  body: { pin: string; locationId?: string },
  action: string,
) {
  return guardedPinCheck(deps, { ip: ctx.ip, locationId: body.locationId }, action, () =>
    staffByPin(deps, body.pin, body.locationId),
  );
}

/**
 * Finds the active staff member with this PIN (optionally at one location: its staff, and the
 * owners of its organisation); PIN checked with the slow hash. `location_id` is where they work:
 * the location asked for, else their own.
 */
export async function staffByPin(deps: AppDeps, pinValue: string, locationId?: string) {
  const { knex } = deps;
  const q = knex('staff as st')
    .join('locations as home', 'home.id', 'st.location_id')
    .where({ 'st.pin_lookup': pinLookup(deps.config.tokenSecret, pinValue), 'st.active': true, 'home.active': true })
    .whereNull('st.deleted_at');
  if (locationId) {
    const organisation = knex('locations').where({ id: locationId, active: true }).select('organisation_id');
    q.where((at) => {
      void at.where('st.location_id', locationId).orWhere((owners) => {
        void owners.where('st.role', 'owner').whereIn('home.organisation_id', organisation);
      });
    });
  }
  const found = await q.select('st.id', 'st.location_id', 'st.name', 'st.role', 'st.pin_hash', 'st.hourly_rate');
  // PINs are unique per location only: the location's own staff member comes before an owner with the same PIN.
  const local = found.filter((r) => r.location_id === locationId);
  const rows = local.length ? local : found;
  const row = rows[0];
  if (!row || !(await verifyPin(pinValue, row.pin_hash))) return undefined;
  // Asked only once the PIN verified (one lookup value is one PIN), so it tells a guesser nothing.
  if (rows.length > 1) throw fieldError('locationId', 'This PIN exists at several locations: send locationId');
  return { ...row, location_id: locationId ?? row.location_id } as {
    id: string;
    location_id: string;
    name: string;
    role: string;
    hourly_rate: number;
  };
}

const SESSION_SHAPE = '{token, expiresAt, refreshToken, refreshExpiresAt, staff: {id, name, role, locationId}}';

export function authRoutes() {
  return [
    route({
      method: 'post',
      path: '/api/v1/auth/login',
      summary:
        'Log in with a staff PIN (4 digits; 4-8 for admin and owner). Locked out for 5 min after 5 wrong PINs in 5 min',
      tag: 'Auth',
      roles: 'public',
      body: noUnknown(yup.object({ pin: pinField().required(), locationId: uuid().optional() })),
      responses: { 200: json(SESSION_SHAPE, ref('LoginSession')) },
      errors: [401, 429],
      handler: async ({ body, deps, ctx }) => {
        // Failures are not cleared by a success: otherwise someone could interleave their own PIN
        // with guesses at a colleague's and never be locked out. They age out after the window.
        const staff = await staffByGuardedPin(deps, ctx, body, 'login');
        deps.logger.info({ staffId: staff.id, role: staff.role }, 'login');
        return startSession(deps, staff);
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/refresh',
      summary:
        'Exchange a refresh token for a new access token and the next refresh token. Each refresh token works once: ' +
        'presenting a used one again revokes the whole session (401). A session lasts at most TILLFLOW_SESSION_MAX_AGE_HOURS ' +
        'from its login: past that, refresh answers 401 and the PIN is needed again. Too many wrong ones from a client → 429',
      tag: 'Auth',
      roles: 'public',
      body: noUnknown(
        yup.object({
          refreshToken: yup
            .string()
            .strict()
            .required()
            .matches(REFRESH_TOKEN_RE, { message: '${path} is not a refresh token', excludeEmptyString: false }),
        }),
      ),
      responses: { 200: json(SESSION_SHAPE, ref('LoginSession')) },
      errors: [401, 429],
      handler: async ({ body, deps, ctx }) =>
        refreshGuard(deps, ctx.ip, () => rotateRefreshToken(deps, body.refreshToken)),
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/logout',
      summary: 'End this session; the token and the refresh token stop working',
      tag: 'Auth',
      roles: KITCHEN,
      responses: { 204: 'logged out' },
      handler: async ({ auth, deps, ctx }) => {
        await endSession(deps, auth.sessionId);
        // Other replicas hear of it by NOTIFY; this one must not answer the next request from its cache first.
        deps.sessions?.revoked(auth.sessionId);
        ctx.status = 204;
        return undefined;
      },
    }),
  ];
}
