import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { ApiError, badRequest, errorBody, notFound } from './errors';
import { AnyRoute, mountRoutes } from './route';
import { authenticate } from './auth';
import { rateLimit } from './rate-limit';
import type { AppDeps } from './types';
import { httpMetrics } from './metrics';
import { allRoutes } from './routes';

/** The Koa application: contract-format errors, JSON bodies, bearer auth, and every route. */
export function createApp(deps: AppDeps, routes: AnyRoute[] = allRoutes()): Koa {
  const app = new Koa({ proxy: process.env.TRUST_PROXY === 'true' });
  app.use(errorHandler(deps));
  app.use(httpMetrics());
  app.use(
    bodyParser({
      enableTypes: ['json'],
      encoding: 'utf-8',
      jsonLimit: '1mb',
      onError: (err: Error) => {
        throw badRequest(`Malformed JSON body: ${err.message}`);
      },
    }),
  );
  app.use(authenticate(deps));
  app.use(rateLimit(deps));
  const router = new Router();
  mountRoutes(router, routes, deps);
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  app.use(async (ctx) => {
    if (ctx.status === 405) {
      ctx.body = errorBody('NOT_FOUND', `${ctx.method} is not allowed on ${ctx.path}`);
      return;
    }
    throw notFound(`Route ${ctx.method} ${ctx.path}`);
  });
  return app;
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
  if (e?.type === 'entity.too.large') return new ApiError(413 as number, 'BAD_REQUEST', 'Request body too large');
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
