import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import { workflowIds } from '../core/events';
import { refundWorkflowId } from '../core/refund';
import { withLogIds, type LogIds } from '../platform/log-context';
import type { AppDeps } from './types';

/**
 * A proxy's or a terminal's request id is kept only when it is a plain token: it goes into every
 * log line of the request, so anything else (quotes, newlines, megabytes) is replaced, not echoed.
 */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Routes whose `:id` is an order (and so its checkout workflow), or a refund. */
const ORDER_ROUTE = /^\/api\/v1\/orders\/:id(\/|$)/;
const REFUND_ROUTE = /^\/api\/v1\/refunds\/:id(\/|$)/;

/**
 * One `request` line per request with method, route, status and time, under the request id
 * (X-Request-Id, echoed or made up) that every line logged while serving it also carries. The
 * order and workflow ids are added when the request is about one, so a grep of an order id finds
 * its requests beside its activities (workers/activity-log.ts).
 */
export function requestLog(deps: AppDeps): Koa.Middleware {
  return async (ctx, next) => {
    const offered = ctx.get('X-Request-Id');
    const requestId = REQUEST_ID.test(offered) ? offered : randomUUID();
    ctx.set('X-Request-Id', requestId);
    const ids: LogIds = { requestId };
    const started = performance.now();
    try {
      await withLogIds(ids, next);
    } finally {
      Object.assign(ids, idsOf(ctx));
      withLogIds(ids, () =>
        deps.logger.info(
          {
            method: ctx.method,
            route: (ctx as { _matchedRoute?: string })._matchedRoute,
            path: ctx.path,
            status: ctx.status,
            ms: Math.round(performance.now() - started),
          },
          'request',
        ),
      );
    }
  };
}

/** The order (and its workflow) or refund a request was about, from its route or what it created. */
function idsOf(ctx: Koa.ParameterizedContext): LogIds {
  const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? '';
  const params = (ctx as { params?: Record<string, string> }).params ?? {};
  const body = (ctx.body ?? {}) as { id?: unknown; orderId?: unknown };
  if (ORDER_ROUTE.test(route) && params.id) return orderIds(params.id);
  if (REFUND_ROUTE.test(route) && params.id) {
    const ids: LogIds = { workflowId: refundWorkflowId(params.id) };
    return typeof body.orderId === 'string' ? { ...ids, orderId: body.orderId } : ids;
  }
  if (route === '/api/v1/orders' && ctx.method === 'POST' && ctx.status === 201 && typeof body.id === 'string')
    return orderIds(body.id);
  if (typeof body.orderId === 'string') return orderIds(body.orderId);
  return {};
}

const orderIds = (orderId: string): LogIds => ({ orderId, workflowId: workflowIds.order(orderId) });
