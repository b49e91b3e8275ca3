import type Koa from 'koa';
import { createHash, randomBytes } from 'node:crypto';
import { verifyToken } from './security';
import { notFound } from './errors';
import type { AppDeps, AuthContext } from './types';

/** The header an owner picks the location of a request with (on `/ws`: `?locationId=`). */
export const LOCATION_HEADER = 'X-Location-Id';

/**
 * Resolves `Authorization: Bearer <token>` to a live session at the location the request works
 * at (see atLocation; a location the token may not use is 404); routes then check roles. This is
 * the one place a request's location is decided: every route reads it from `auth.locationId`.
 */
export function authenticate(deps: AppDeps): Koa.Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    const auth = token ? await resolveToken(deps, token) : undefined;
    const requested = ctx.get(LOCATION_HEADER) || undefined;
    if (auth) {
      ctx.state.auth = await atLocation(deps, auth, requested);
      // Answered by the route (requireRole), so a method no route has still gets its 405.
      if (!ctx.state.auth) ctx.state.authError = notFound('Location');
    }
    await next();
  };
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The session working at `requested` (none: its own location), or undefined when it may not:
 * an owner may pick any active location of its organisation, everyone else only their own. The
 * session cache's object is never changed, so a pick lasts one request.
 */
export async function atLocation(
  deps: AppDeps,
  auth: AuthContext,
  requested: string | undefined,
): Promise<AuthContext | undefined> {
  if (requested === undefined || requested === auth.locationId) return auth;
  if (auth.role !== 'owner' || !auth.organisationId || !UUID_RE.test(requested)) return undefined;
  const location = await deps
    .knex('locations')
    .where({ id: requested, organisation_id: auth.organisationId, active: true })
    .first('id');
  return location ? { ...auth, locationId: requested } : undefined;
}

/** Device tokens are random, not signed: the row is the authority, so revoking it ends them at once. */
const DEVICE_TOKEN_PREFIX = 'tfd_';

export function newDeviceToken(): { token: string; hash: string } {
  const token = DEVICE_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: deviceTokenHash(token) };
}

/** 256 random bits need no slow hash: SHA-256 finds the row without storing the token itself. */
function deviceTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

async function resolveDeviceToken(deps: AppDeps, token: string): Promise<AuthContext | undefined> {
  const row = await deps
    .knex('devices')
    .where({ token_hash: deviceTokenHash(token) })
    .whereIn('kind', ['display', 'kitchen_screen'])
    .whereNull('revoked_at')
    .first('id', 'kind', 'location_id', 'name', 'terminal_id');
  if (!row) return undefined;
  const device = { sessionId: row.id, staffId: row.id, locationId: row.location_id, name: row.name };
  if (row.kind === 'kitchen_screen') return { ...device, role: 'kitchen_screen', screenId: row.id };
  return { ...device, role: 'display', terminalId: row.terminal_id };
}

/** A staff session token (signed, backed by a live session) or a display device token; cached per replica (see SessionCache). */
export async function resolveToken(deps: AppDeps, token: string): Promise<AuthContext | undefined> {
  const cached = deps.sessions?.get(token);
  if (cached) return cached;
  const readAt = deps.sessions?.begin() ?? 0;
  const auth = await readToken(deps, token);
  if (auth) deps.sessions?.put(token, auth, readAt);
  return auth;
}

async function readToken(deps: AppDeps, token: string): Promise<AuthContext | undefined> {
  if (token.startsWith(DEVICE_TOKEN_PREFIX)) return resolveDeviceToken(deps, token);
  const claims = await verifyToken(deps.config.tokenSecret, token);
  if (!claims) return undefined;
  const row = await deps
    .knex('sessions as s')
    .join('staff as st', 'st.id', 's.staff_id')
    // The session's location: the staff member's own, or the one an owner logged in at.
    .join('locations as l', 'l.id', 's.location_id')
    .where('s.id', claims.sessionId)
    .whereNull('s.revoked_at')
    .where('s.expires_at', '>', deps.knex.fn.now())
    .where('st.active', true)
    .where('l.active', true)
    .whereNull('st.deleted_at')
    .first(
      's.id as sessionId',
      'st.id as staffId',
      's.location_id as locationId',
      'l.organisation_id as organisationId',
      'st.role',
      'st.name',
      's.expires_at as expiresAt',
    );
  if (!row) return undefined;
  // The token ends before its session (access tokens are short; a refresh renews the session).
  const sessionEnds = new Date(row.expiresAt);
  return { ...row, expiresAt: sessionEnds < claims.expiresAt ? sessionEnds : claims.expiresAt } as AuthContext;
}
