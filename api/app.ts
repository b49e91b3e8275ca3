import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import helmet from 'koa-helmet';
import { ApiError, badRequest, errorBody, notFound } from './errors';
import { AnyRoute, mountRoutes } from './route';
import { authenticate } from './auth';
import type { AppDeps } from './types';
import { httpMetrics } from './metrics';
import { allRoutes } from './routes';

/** The Koa application: contract-format errors, JSON bodies, bearer auth, and every route. */
export function createApp(deps: AppDeps, routes: AnyRoute[] = allRoutes()): Koa {
  const app = new Koa({ proxy: process.env.TRUST_PROXY === 'true' });
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
  new ApiError(405, 'BAD_REQUEST', `${method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`, undefined, { Allow: allowed.join(', ') });

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
      const e = toApiError(err);
      if (e.status >= 500 && e.code === 'INTERNAL') {
        deps.logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      }
      ctx.status = e.status;
      ctx.body = errorBody(e.code, e.message, e.errors);
      for (const [k, v] of Object.entries(e.headers ?? {})) ctx.set(k, v);
    }
  };
}

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { status?: number; expose?: boolean; message?: string; type?: string; name?: string };
  if (e?.type === 'entity.too.large') return tooLarge();
  if (e?.status && e.status >= 400 && e.status < 500 && e.expose) {
    return new ApiError(e.status, e.status === 400 ? 'BAD_REQUEST' : 'BAD_REQUEST', e.message ?? 'Bad request');
  }
  if (isDependencyDown(err)) return new ApiError(503, 'UNAVAILABLE', 'A dependency is unavailable; nothing was written. Try again.');
  return new ApiError(500, 'INTERNAL', 'Internal error; it has been logged');
}

function isDependencyDown(err: unknown): boolean {
  const e = err as { code?: string | number; name?: string; message?: string };
  if (!e) return false;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P03', '08006', '08001'].includes(String(e.code))) return true;
  if (e.name === 'ServiceError' || e.name === 'KnexTimeoutError') return true;
  return /connect ECONNREFUSED|Connection terminated|UNAVAILABLE|DEADLINE_EXCEEDED/.test(e.message ?? '');
}
