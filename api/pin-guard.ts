import type { Knex } from 'knex';
import { Counter } from 'prom-client';
import { ApiError, unauthenticated } from './errors';
import { registry } from './metrics';
import type { AppDeps } from './types';

/** Per client (IP): five wrong PINs within five minutes lock it out for five minutes after the fifth. */
export const LOCKOUT = { failures: 5, windowMs: 5 * 60_000, lockMs: 5 * 60_000 };
/** Failures without a locationId in the body count against this key (single-shop installs). */
export const ANY_LOCATION = '*';
const HOUR = 3_600_000;

const slowedAttempts = new Counter({
  name: 'tillflow_pin_attempts_slowed_total',
  help: 'PIN checks delayed because a location passed its hourly ceiling of wrong PINs (alert on any increase)',
  registers: [registry],
});

/**
 * When this client is locked out (from the failures in Postgres, so every API replica agrees).
 * Pending attempts count as failures until their PIN has verified.
 */
export async function lockedUntil(db: Knex, clientKey: string): Promise<Date | undefined> {
  const since = new Date(Date.now() - LOCKOUT.windowMs - LOCKOUT.lockMs);
  const times: Date[] = (
    await db('login_failures').where('client_key', clientKey).where('at', '>', since).orderBy('at', 'asc').pluck('at')
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
  return new ApiError(429, 'LOCKED_OUT', `Too many wrong PINs; try again in ${seconds} s`, undefined, {
    'Retry-After': String(seconds),
  });
}

/**
 * Checks the lockout and records this attempt in one transaction, under an advisory lock per
 * client, so concurrent requests cannot all pass the check before any of them is counted. The
 * attempt is recorded as a failure up front and only removed once its PIN verified. Returns its
 * row id and whether the location is past its hourly ceiling of failures.
 */
async function reserveAttempt(
  deps: AppDeps,
  clientKey: string,
  locationKey: string,
): Promise<{ id: string; overCeiling: boolean }> {
  return deps.knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`pin-attempt:${clientKey}`]);
    const until = await lockedUntil(trx, clientKey);
    if (until) throw lockedOut(until);
    const [row] = await trx('login_failures')
      .insert({ client_key: clientKey, location_key: locationKey })
      .returning('id');
    const recent = await trx('login_failures')
      .where('location_key', locationKey)
      .where('at', '>', new Date(Date.now() - HOUR))
      .count('* as n')
      .first();
    return { id: String(row.id), overCeiling: Number(recent?.n ?? 0) > deps.config.pinGuard.failuresPerLocationHour };
  });
}

/**
 * Past the ceiling, PIN checks at the location are spaced `slowdownMs` apart (each takes the next
 * free slot, shared by every replica), however many IPs they come from: a brute force slows to a
 * crawl, yet staff are delayed, never refused.
 */
async function slowDown(deps: AppDeps, locationKey: string, action: string): Promise<void> {
  const spacing = deps.config.pinGuard.slowdownMs / 1000;
  const { rows } = await deps.knex.raw(
    `INSERT INTO pin_throttle (location_key, next_at) VALUES (?, now() + make_interval(secs => ?))
     ON CONFLICT (location_key) DO UPDATE SET next_at = greatest(pin_throttle.next_at, now()) + make_interval(secs => ?)
     RETURNING greatest(0, extract(epoch from next_at - clock_timestamp()) * 1000)::float8 AS wait_ms`,
    [locationKey, spacing, spacing],
  );
  const waitMs = Number(rows[0].wait_ms);
  slowedAttempts.inc();
  deps.logger.warn(
    { alert: 'pin_bruteforce', locationKey, action, waitMs },
    'ALERT: too many wrong PINs at this location in the last hour; PIN checks are being slowed down',
  );
  await new Promise((resolve) => setTimeout(resolve, waitMs));
}

/**
 * Runs `verify` (which checks a PIN and returns who it belongs to, or undefined) behind the
 * per-client lockout and the per-location ceiling. Every attempt that does not end with a
 * verified PIN stays counted as a failure, whatever the reason (wrong PIN, ambiguous PIN, error).
 */
export async function guardedPinCheck<T>(
  deps: AppDeps,
  who: { ip: string; locationId?: string },
  action: string,
  verify: () => Promise<T | undefined>,
): Promise<T> {
  const clientKey = who.ip || 'unknown';
  const locationKey = who.locationId ?? ANY_LOCATION;
  const attempt = await reserveAttempt(deps, clientKey, locationKey);
  if (attempt.overCeiling) await slowDown(deps, locationKey, action);
  let found: T | undefined;
  try {
    found = await verify();
  } catch (err) {
    throw await failure(deps, clientKey, err);
  }
  if (found !== undefined) {
    // Not a failure after all. (Earlier failures stay: a colleague's PIN interleaved with guesses must not reset them.)
    await deps.knex('login_failures').where('id', attempt.id).delete();
    return found;
  }
  deps.logger.info({ clientKey, locationKey }, `${action} failed: wrong PIN`);
  throw await failure(deps, clientKey, unauthenticated('Wrong PIN'));
}

/** The error for a failed attempt: LOCKED_OUT when this one was the last allowed, else its own. */
async function failure(deps: AppDeps, clientKey: string, err: unknown): Promise<unknown> {
  const until = await lockedUntil(deps.knex, clientKey);
  return until ? lockedOut(until) : err;
}
