import type Koa from 'koa';
import type { Knex } from 'knex';
import {
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { ApiError, unauthenticated } from './errors';
import type { AppDeps, AuthContext } from './types';

/**
 * Counters live in Postgres (table rate_limits, rate-limiter-flexible's RateLimiterPostgres) so
 * every API replica shares one budget per client and per session: with in-memory counters each
 * replica behind a load balancer would multiply the limit. The cost is one upsert per request. An
 * in-memory limiter stands in while Postgres does not answer (the request then fails on its own
 * with 503 if it needs the database).
 */
export function postgresLimiter(
  knex: Knex,
  keyPrefix: string,
  points: number,
  durationSeconds: number,
): RateLimiterAbstract {
  return new RateLimiterPostgres({
    storeClient: knex,
    storeType: 'knex',
    tableName: 'rate_limits',
    tableCreated: true, // by migration 003
    keyPrefix,
    points,
    duration: durationSeconds,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration: durationSeconds }),
  });
}

export function rateLimited(msBeforeNext: number, detail: string): ApiError {
  const seconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new ApiError(429, 'RATE_LIMITED', `${detail}; try again in ${seconds} s`, undefined, {
    'Retry-After': String(seconds),
  });
}

/** Takes one point for `key`, or throws 429 RATE_LIMITED with Retry-After. */
export async function consume(limiter: RateLimiterAbstract, key: string, detail: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (err) {
    if (err instanceof RateLimiterRes) throw rateLimited(err.msBeforeNext, detail);
    throw err;
  }
}

interface Limiters {
  ip?: RateLimiterAbstract;
  token?: RateLimiterAbstract;
  pinChanges: RateLimiterAbstract;
  /** Wrong refresh tokens per client IP in 5 minutes (see api/routes/auth.ts). */
  refreshFailures: RateLimiterAbstract;
}
const byDeps = new WeakMap<AppDeps, Limiters>();

/** This app's limiters, built once from its config (a limit of 0 switches that one off). */
export function limiters(deps: AppDeps): Limiters {
  let l = byDeps.get(deps);
  if (!l) {
    const { ipPerMinute, tokenPerMinute, pinChangesPer10Min } = deps.config.rateLimit;
    l = {
      ip: ipPerMinute > 0 ? postgresLimiter(deps.knex, 'ip', ipPerMinute, 60) : undefined,
      token: tokenPerMinute > 0 ? postgresLimiter(deps.knex, 'session', tokenPerMinute, 60) : undefined,
      pinChanges: postgresLimiter(deps.knex, 'pin-change', pinChangesPer10Min, 600),
      refreshFailures: postgresLimiter(deps.knex, 'refresh-failure', deps.config.refreshGuard.failuresPer5Min, 300),
    };
    byDeps.set(deps, l);
  }
  return l;
}

/**
 * Like the PIN lockout for logins: a client that sent too many wrong refresh tokens is refused
 * (429, even with a right one) until they age out. Checked before the token is looked at; each
 * failure counts (the last allowed one already answers 429).
 */
export async function refreshGuard<T>(deps: AppDeps, ip: string, attempt: () => Promise<T | undefined>): Promise<T> {
  const limiter = limiters(deps).refreshFailures;
  const key = ip || 'unknown';
  const detail = 'Too many wrong refresh tokens from this address';
  const seen = await limiter.get(key);
  if (seen && seen.consumedPoints >= limiter.points) throw rateLimited(seen.msBeforeNext, detail);
  const found = await attempt();
  if (found !== undefined) return found;
  await consume(limiter, key, detail);
  throw unauthenticated('The refresh token is not valid (unknown, expired, already used or logged out)');
}

/**
 * General limit on every request: per session when the token is valid (ten terminals sharing one
 * login share its budget), otherwise per client IP (login, timeclock, webhooks, bad tokens).
 * Mounted after authentication so it knows which.
 */
export function rateLimit(deps: AppDeps): Koa.Middleware {
  return async (ctx, next) => {
    const auth = ctx.state.auth as AuthContext | undefined;
    const l = limiters(deps);
    if (auth && l.token) await consume(l.token, auth.sessionId, 'Too many requests for this session');
    else if (!auth && l.ip) await consume(l.ip, ctx.ip || 'unknown', 'Too many requests from this address');
    await next();
  };
}
