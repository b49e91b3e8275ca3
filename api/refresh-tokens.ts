import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { signToken } from './security';
import type { AppDeps } from './types';

/**
 * Staff sessions: a session row lives as long as its refresh tokens keep renewing it; each
 * login or refresh hands out a short-lived signed access token (checked against the row, so
 * revoking the session ends it at once) and the next single-use refresh token.
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
  const sessionEnds = secondsFromNow(deps.config.tokenTtlSeconds);
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

type Rotation = { session: IssuedSession } | { reusedSession: string } | undefined;

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
      const seen = await trx('refresh_tokens').where('token_hash', hash).whereNotNull('used_at').first('session_id');
      if (!seen) return undefined;
      // A rotated token came back: it was copied. Whoever holds the newer one is logged out too.
      await trx('sessions').where('id', seen.session_id).whereNull('revoked_at').update({ revoked_at: trx.fn.now() });
      return { reusedSession: seen.session_id as string };
    }
    const staff: SessionStaff | undefined = await trx('sessions as s')
      .join('staff as st', 'st.id', 's.staff_id')
      .where('s.id', used.session_id)
      .whereNull('s.revoked_at')
      .where('st.active', true)
      .whereNull('st.deleted_at')
      .first('st.id', 'st.location_id', 'st.name', 'st.role');
    if (!staff) return undefined;
    const sessionEnds = secondsFromNow(deps.config.tokenTtlSeconds);
    await trx('sessions').where('id', used.session_id).update({ expires_at: sessionEnds });
    return { session: await issue(deps, trx, used.session_id, staff, sessionEnds) };
  });
}

/** The next tokens of the session, or undefined when the refresh token is unknown, expired, used or its session ended. */
export async function rotateRefreshToken(deps: AppDeps, refreshToken: string): Promise<IssuedSession | undefined> {
  const result = await exchange(deps, refreshToken);
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
