import type Koa from 'koa';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'tillflow_' });

const httpDuration = new Histogram({
  name: 'tillflow_http_request_duration_seconds',
  help: 'HTTP request duration by route and status',
  labelNames: ['method', 'route', 'status'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

export function httpMetrics(): Koa.Middleware {
  return async (ctx, next) => {
    const end = httpDuration.startTimer({ method: ctx.method });
    try {
      await next();
    } finally {
      end({ route: (ctx as any)._matchedRoute ?? 'unmatched', status: String(ctx.status) });
    }
  };
}
