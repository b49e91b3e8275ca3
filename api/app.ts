import Koa from 'koa';
import Router from '@koa/router';
import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcServiceError } from '@temporalio/client';
import { KnexTimeoutError } from 'knex';
import { bodyParser } from '@koa/bodyparser';
import helmet from 'koa-helmet';
import { ApiError, badRequest, errorBody, notFound, unavailable } from './errors';
import { AnyRoute, mountRoutes } from './route';
import { authenticate } from './auth';
import { rateLimit } from './rate-limit';
import type { AppDeps } from './types';
import { httpMetrics } from './metrics';
import { requestLog } from './request-log';
import { allRoutes } from './routes';

/** The Koa application: contract-format errors, JSON bodies, bearer auth, and every route. */
export function createApp(deps: AppDeps, routes: AnyRoute[] = allRoutes()): Koa {
  const app = new Koa({ proxy: process.env.TRUST_PROXY === 'true' });
  app.use(requestLog(deps));
  app.use(errorHandler(deps));
  app.use(securityHeaders());
  app.use(httpMetrics());
  app.use(
    bodyParser({
      enableTypes: ['json'],
      encoding: 'utf-8',
      jsonLimit: '1mb',
      onError: (err: Error & { type?: string }) => {
        if (err.type === 'entity.too.large') throw tooLarge();
        throw badRequest(`Malformed JSON body: ${err.message}`);
      },
    }),
  );
  app.use(authenticate(deps));
  app.use(rateLimit(deps));
  const router = new Router();
  mountRoutes(router, routes, deps);
  app.use(router.routes());
  app.use(async (ctx) => {
    const allowed = allowedMethods(router, ctx.path);
    if (allowed.length) throw methodNotAllowed(ctx.method, ctx.path, allowed);
    throw notFound(`Route ${ctx.method} ${ctx.path}`);
  });
  return app;
}

/**
 * Standard security headers for a JSON API: nothing a response carries may be run, framed or
 * sniffed as another type. The HTML pages (/docs, /pay/done) set their own narrower CSP.
 */
function securityHeaders(): Koa.Middleware {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
  });
}

/** The contract has no code of its own for these two: both are BAD_REQUEST (documented in the spec). */
const tooLarge = () => new ApiError(413, 'BAD_REQUEST', 'Request body over 1 MB');
const methodNotAllowed = (method: string, path: string, allowed: string[]) =>
  new ApiError(405, 'BAD_REQUEST', `${method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`, undefined, {
    Allow: allowed.join(', '),
  });

/** Methods the routes declare for this path (HEAD comes with GET), empty when no route has the path. */
function allowedMethods(router: Router, path: string): string[] {
  const methods = new Set(router.match(path, 'GET').path.flatMap((layer) => layer.methods));
  return [...methods].sort();
}

function errorHandler(deps: AppDeps): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const e = toApiError(err, ctx.method);
      if (e.status >= 500 && e.code === 'INTERNAL') {
        deps.logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      } else if (e.status === 503) {
        // What a dependency said, so a 503 can be explained from the logs.
        deps.logger.warn({ err, method: ctx.method, path: ctx.path }, 'dependency unavailable');
      }
      ctx.status = e.status;
      ctx.body = { ...errorBody(e.code, e.message, e.errors), ...e.extra };
      for (const [k, v] of Object.entries(e.headers ?? {})) ctx.set(k, v);
    }
  };
}

export function toApiError(err: unknown, method = 'POST'): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { status?: number; expose?: boolean; message?: string; type?: string; name?: string };
  if (e?.type === 'entity.too.large') return tooLarge();
  if (e?.status && e.status >= 400 && e.status < 500 && e.expose) {
    return new ApiError(e.status, e.status === 400 ? 'BAD_REQUEST' : 'BAD_REQUEST', e.message ?? 'Bad request');
  }
  const down = dependencyDown(err);
  if (down === undefined) return new ApiError(500, 'INTERNAL', 'Internal error; it has been logged');
  // A read writes nothing, whatever happened on the way.
  if (down === 'nothing-written' || method === 'GET' || method === 'HEAD')
    return unavailable('A dependency is unavailable; nothing was written. Try again.');
  return unavailable(
    'A dependency failed mid-request; the change may have been applied. Retry with the same Idempotency-Key.',
    true,
  );
}

/** gRPC status RESOURCE_EXHAUSTED: the server refused the call before doing anything. */
const GRPC_RESOURCE_EXHAUSTED = 8;
/** Postgres (or Node) codes of a connection that was never made: no statement ran. */
const NEVER_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', '57P03', '08001']);
/** Codes of a connection lost mid-request: a statement may have run. */
const CONNECTION_LOST = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '08006', '08003']);

/**
 * Whether `err` is a dependency being down, and whether anything may have been written. Temporal
 * errors are told by type and gRPC status: a DEADLINE_EXCEEDED (or any transport failure) after
 * the Update was sent leaves its outcome unknown.
 */
function dependencyDown(err: unknown): 'nothing-written' | 'outcome-unknown' | undefined {
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return 'outcome-unknown';
  const grpcCode = isGrpcServiceError(err)
    ? err.code
    : err instanceof ServiceError && isGrpcServiceError(err.cause)
      ? err.cause.code
      : undefined;
  if (grpcCode === GRPC_RESOURCE_EXHAUSTED) return 'nothing-written'; // Temporal refused it (rate limit)
  if (grpcCode !== undefined || err instanceof ServiceError) return 'outcome-unknown'; // e.g. DEADLINE_EXCEEDED, UNAVAILABLE
  if (err instanceof KnexTimeoutError) return 'nothing-written'; // no pool connection: nothing was sent
  const code = String((err as { code?: unknown } | undefined)?.code);
  if (NEVER_CONNECTED.has(code)) return 'nothing-written';
  if (CONNECTION_LOST.has(code)) return 'outcome-unknown';
  return undefined;
}
