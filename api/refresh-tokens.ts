import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { signToken } from './security';
import { unauthenticated } from './errors';
import type { AppDeps } from './types';

/**
 * Staff sessions: a session row lives as long as its refresh tokens keep renewing it, but never
 * longer than `sessionMaxAgeSeconds` from the login (TILLFLOW_SESSION_MAX_AGE_HOURS): then the
 * PIN is asked again. Each login or refresh hands out a short-lived signed access token (checked
 * against the row, so revoking the session ends it at once) and the next single-use refresh token.
 *
 * Refresh-token rows are deleted once they are of no use: a rotation deletes its session's
 * expired ones, a logout all of its session's, and each login sweeps up to SWEEP expired rows of
 * any session (abandoned terminals). A used row stays until it expires, so presenting a copied
 * token is still detected as reuse (see `exchange`).
 */

const REFRESH_PREFIX = 'tfr_';
/** What a refresh token looks like (prefix + 256 random bits, base64url): anything else is refused as input. */
export const REFRESH_TOKEN_RE = /^tfr_[A-Za-z0-9_-]{43}$/;

export interface SessionStaff {
  id: string;
  location_id: string;
  name: string;
  role: string;
}

export interface IssuedSession {
  token: string;
  expiresAt: string;
  refreshToken: string;
  refreshExpiresAt: string;
  staff: { id: string; name: string; role: string; locationId: string };
}

/** 256 random bits need no slow hash: SHA-256 finds the row without storing the token itself. */
const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');
const secondsFromNow = (s: number) => new Date(Math.floor(Date.now() / 1000 + s) * 1000);
/** Expired refresh-token rows one login deletes at most (one short statement, whatever the backlog). */
const SWEEP = 500;

/** When a session started at `createdAt` ends if renewed now: the session lifetime, capped by its maximum age. */
function sessionEndFrom(deps: AppDeps, createdAt: Date): Date {
  const renewed = secondsFromNow(deps.config.tokenTtlSeconds);
  const cap = new Date(createdAt.getTime() + deps.config.sessionMaxAgeSeconds * 1000);
  return renewed < cap ? renewed : cap;
}

/** The error of a refresh past the session's maximum age (not a wrong token: the refresh guard does not count it). */
export const sessionTooOld = () =>
  unauthenticated(
    'The session has reached its maximum age (TILLFLOW_SESSION_MAX_AGE_HOURS): log in with the PIN again',
  );

/** Deletes up to SWEEP expired refresh tokens of any session (skipping rows another sweep holds). */
async function sweepExpired(db: Knex): Promise<void> {
  await db.raw(
    `delete from refresh_tokens where token_hash in (
       select token_hash from refresh_tokens where expires_at <= now() limit ? for update skip locked)`,
    [SWEEP],
  );
}

/** The next refresh token (its row, ending with the session) and an access token that ends no later. */
async function issue(
  deps: AppDeps,
  db: Knex,
  sessionId: string,
  staff: SessionStaff,
  sessionEnds: Date,
): Promise<IssuedSession> {
  const refreshToken = REFRESH_PREFIX + randomBytes(32).toString('base64url');
  await db('refresh_tokens').insert({
    token_hash: hashOf(refreshToken),
    session_id: sessionId,
    expires_at: sessionEnds,
  });
  const accessEnds = secondsFromNow(deps.config.accessTokenTtlSeconds);
  const expiresAt = accessEnds < sessionEnds ? accessEnds : sessionEnds;
  const token = await signToken(
    deps.config.tokenSecret,
    { sessionId, staffId: staff.id, locationId: staff.location_id },
    expiresAt,
  );
  return {
    token,
    expiresAt: expiresAt.toISOString(),
    refreshToken,
    refreshExpiresAt: sessionEnds.toISOString(),
    staff: { id: staff.id, name: staff.name, role: staff.role, locationId: staff.location_id },
  };
}

/** A new session for a staff member whose PIN verified. */
export async function startSession(deps: AppDeps, staff: SessionStaff): Promise<IssuedSession> {
  const sessionId = randomUUID();
  const sessionEnds = sessionEndFrom(deps, new Date());
  await sweepExpired(deps.knex);
  return deps.knex.transaction(async (trx) => {
    await trx('sessions').insert({
      id: sessionId,
      staff_id: staff.id,
      location_id: staff.location_id,
      expires_at: sessionEnds,
    });
    return issue(deps, trx, sessionId, staff, sessionEnds);
  });
}

type Rotation = { session: IssuedSession } | { reusedSession: string } | { tooOld: string } | undefined;

/**
 * Exchanges a refresh token for the next one (the session is renewed by the session lifetime).
 * The token is marked used by a conditional update, so of two concurrent refreshes with the
 * same token exactly one wins and the other counts as reuse.
 */
async function exchange(deps: AppDeps, refreshToken: string): Promise<Rotation> {
  const hash = hashOf(refreshToken);
  return deps.knex.transaction(async (trx) => {
    const [used] = await trx('refresh_tokens')
      .where('token_hash', hash)
      .whereNull('used_at')
      .where('expires_at', '>', trx.fn.now())
      .update({ used_at: trx.fn.now() })
      .returning('session_id');
    if (!used) {
      const seen = await trx('refresh_tokens').where('token_hash', hash).first('session_id', 'used_at');
      if (!seen) return undefined;
      if (!seen.used_at)
        return (await reachedMaxAge(deps, trx, seen.session_id)) ? endTooOld(trx, seen.session_id) : undefined;
      // A rotated token came back: it was copied. Whoever holds the newer one is logged out too.
      await trx('sessions').where('id', seen.session_id).whereNull('revoked_at').update({ revoked_at: trx.fn.now() });
      return { reusedSession: seen.session_id as string };
    }
    const staff: (SessionStaff & { created_at: Date }) | undefined = await trx('sessions as s')
      .join('staff as st', 'st.id', 's.staff_id')
      .where('s.id', used.session_id)
      .whereNull('s.revoked_at')
      .where('st.active', true)
      .whereNull('st.deleted_at')
      .first('st.id', 'st.location_id', 'st.name', 'st.role', 's.created_at');
    if (!staff) return undefined;
    const sessionEnds = sessionEndFrom(deps, new Date(staff.created_at));
    if (sessionEnds.getTime() <= Date.now()) return endTooOld(trx, used.session_id);
    await trx('sessions').where('id', used.session_id).update({ expires_at: sessionEnds });
    await trx('refresh_tokens').where('session_id', used.session_id).where('expires_at', '<=', trx.fn.now()).delete();
    return { session: await issue(deps, trx, used.session_id, staff, sessionEnds) };
  });
}

/** Ends a session that outlived its maximum age: revoked, its refresh tokens deleted (presented again: unknown). */
async function endTooOld(trx: Knex.Transaction, sessionId: string): Promise<{ tooOld: string }> {
  await trx('sessions').where('id', sessionId).whereNull('revoked_at').update({ revoked_at: trx.fn.now() });
  await trx('refresh_tokens').where('session_id', sessionId).delete();
  return { tooOld: sessionId };
}

/** Whether the session has outlived its maximum age (an unused token of it expired at that cap). */
async function reachedMaxAge(deps: AppDeps, trx: Knex.Transaction, sessionId: string): Promise<boolean> {
  const s = await trx('sessions').where('id', sessionId).whereNull('revoked_at').first('created_at');
  return Boolean(s) && new Date(s.created_at).getTime() + deps.config.sessionMaxAgeSeconds * 1000 <= Date.now();
}

/** The next tokens of the session, or undefined when the refresh token is unknown, expired, used or its session ended. */
export async function rotateRefreshToken(deps: AppDeps, refreshToken: string): Promise<IssuedSession | undefined> {
  const result = await exchange(deps, refreshToken);
  if (result && 'tooOld' in result) {
    deps.sessions?.revoked(result.tooOld);
    throw sessionTooOld();
  }
  if (result && 'reusedSession' in result) {
    // Other replicas hear of it by NOTIFY (sessions_revoked trigger); this one drops its cache now.
    deps.sessions?.revoked(result.reusedSession);
    deps.logger.warn(
      { alert: 'refresh_token_reuse', sessionId: result.reusedSession },
      'ALERT: a rotated refresh token was presented again; the session is revoked',
    );
    return undefined;
  }
  return result?.session;
}

/** Ends a session (logout): it is revoked and its refresh tokens are deleted. */
export async function endSession(deps: AppDeps, sessionId: string): Promise<void> {
  await deps.knex.transaction(async (trx) => {
    await trx('sessions').where('id', sessionId).update({ revoked_at: trx.fn.now() });
    await trx('refresh_tokens').where('session_id', sessionId).delete();
  });
}
