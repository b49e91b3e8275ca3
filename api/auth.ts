import type Koa from 'koa';
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

export async function resolveToken(deps: AppDeps, token: string): Promise<AuthContext | undefined> {
  const claims = await verifyToken(deps.config.tokenSecret, token);
  if (!claims) return undefined;
  const row = await deps.knex('sessions as s')
    .join('staff as st', 'st.id', 's.staff_id')
    .where('s.id', claims.sessionId)
    .whereNull('s.revoked_at')
    .where('s.expires_at', '>', deps.knex.fn.now())
    .where('st.active', true)
    .whereNull('st.deleted_at')
    .first('s.id as sessionId', 'st.id as staffId', 'st.location_id as locationId', 'st.role', 'st.name');
  return row ? (row as AuthContext) : undefined;
}
