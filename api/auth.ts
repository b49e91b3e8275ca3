import type Koa from 'koa';
import { createHash, randomBytes } from 'node:crypto';
import { verifyToken } from './security';
import type { AppDeps, AuthContext } from './types';

/** Resolves `Authorization: Bearer <token>` to a live session; routes then check roles. */
export function authenticate(deps: AppDeps): Koa.Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (token) ctx.state.auth = await resolveToken(deps, token);
    await next();
  };
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
    .where({ token_hash: deviceTokenHash(token), kind: 'display' })
    .whereNull('revoked_at')
    .first('id', 'location_id', 'name', 'terminal_id');
  if (!row) return undefined;
  return {
    sessionId: row.id,
    staffId: row.id,
    locationId: row.location_id,
    role: 'display',
    name: row.name,
    terminalId: row.terminal_id,
  };
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
    .where('s.id', claims.sessionId)
    .whereNull('s.revoked_at')
    .where('s.expires_at', '>', deps.knex.fn.now())
    .where('st.active', true)
    .whereNull('st.deleted_at')
    .first(
      's.id as sessionId',
      'st.id as staffId',
      'st.location_id as locationId',
      'st.role',
      'st.name',
      's.expires_at as expiresAt',
    );
  if (!row) return undefined;
  // The token ends before its session (access tokens are short; a refresh renews the session).
  const sessionEnds = new Date(row.expiresAt);
  return { ...row, expiresAt: sessionEnds < claims.expiresAt ? sessionEnds : claims.expiresAt } as AuthContext;
}
