import type Router from '@koa/router';
import type { ParameterizedContext } from 'koa';
import * as yup from 'yup';
import { convertSchema } from '@sodaru/yup-to-json-schema';
import { forbidden, unauthenticated, validationError } from './errors';
import type { AppDeps, AuthContext, Role } from './types';

export const ADMIN: Role[] = ['admin'];
export const MANAGER: Role[] = ['admin', 'manager'];
export const CASHIER: Role[] = ['admin', 'manager', 'cashier'];
export const KITCHEN: Role[] = ['admin', 'manager', 'cashier', 'kitchen'];

type Schema = yup.AnyObjectSchema;
type Infer<S> = S extends yup.ISchema<infer T> ? T : undefined;

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  auth: AuthContext;
  deps: AppDeps;
  ctx: ParameterizedContext;
}

export interface RouteSpec<P extends Schema | undefined, Q extends Schema | undefined, B extends Schema | undefined> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Koa path, e.g. /api/v1/catalog/items/:id */
  path: string;
  summary: string;
  tag: string;
  /** Roles allowed; 'public' routes need no token. */
  roles: Role[] | 'public';
  params?: P;
  query?: Q;
  body?: B;
  /** Status → description (and optional schema name in components). */
  responses: Record<number, string>;
  /** Extra documented error statuses beyond the ones derived from the spec. */
  errors?: number[];
  handler: (input: RouteInput<Infer<P>, Infer<Q>, Infer<B>>) => Promise<unknown>;
}

export type AnyRoute = RouteSpec<any, any, any>;

export function route<P extends Schema | undefined = undefined, Q extends Schema | undefined = undefined, B extends Schema | undefined = undefined>(
  spec: RouteSpec<P, Q, B>,
): AnyRoute {
  return spec as AnyRoute;
}

function toFieldErrors(err: yup.ValidationError) {
  const inner = err.inner.length ? err.inner : [err];
  return inner.map((e) => ({ path: e.path || '(body)', message: e.message }));
}

function toValidationError(err: yup.ValidationError, where: string) {
  const errors = toFieldErrors(err).map((e) => (where === 'body' ? e : { ...e, path: `${where}.${e.path}` }));
  return validationError(errors.length === 1 ? errors[0]!.message : `${errors.length} fields are invalid`, errors);
}

/**
 * Validates (and casts) one part of the request. A JSON body is first checked strictly, so a value
 * of the wrong JSON type is refused before any transform (trim, default) ever sees it and nothing
 * is coerced (5 never becomes "5"); params and query strings are text by nature and are cast.
 */
export async function validate<S extends Schema>(schema: S, value: unknown, where: string): Promise<yup.InferType<S>> {
  try {
    if (where === 'body') await schema.validate(value ?? {}, { abortEarly: false, strict: true });
    return await schema.validate(value ?? {}, { abortEarly: false, stripUnknown: false });
  } catch (err) {
    if (err instanceof yup.ValidationError) throw toValidationError(err, where);
    throw err;
  }
}

export function mountRoutes(router: Router, routes: AnyRoute[], deps: AppDeps): void {
  for (const r of routes) {
    router[r.method](r.path, async (ctx) => {
      const auth = r.roles === 'public' ? (ctx.state.auth as AuthContext) : requireRole(ctx.state.auth, r.roles);
      const params = r.params ? await validate(r.params, ctx.params, 'params') : ctx.params;
      const query = r.query ? await validate(r.query, ctx.query, 'query') : ctx.query;
      const body = r.body ? await validate(r.body, (ctx.request as any).body, 'body') : undefined;
      const result = await r.handler({ params, query, body, auth, deps, ctx });
      if (result !== undefined) ctx.body = result;
      else if (ctx.body === undefined && ctx.status === 404) ctx.status = 204;
    });
  }
}

function requireRole(auth: AuthContext | undefined, roles: Role[]): AuthContext {
  if (!auth) throw unauthenticated();
  if (!roles.includes(auth.role)) throw forbidden(`This needs one of the roles: ${roles.join(', ')}`);
  return auth;
}

const ERROR_TEXT: Record<number, string> = {
  400: 'Malformed JSON',
  401: 'Missing, expired or revoked token',
  403: 'Role not allowed',
  404: 'Not found',
  409: 'The resource state forbids this',
  422: 'Validation error (per-field `errors`)',
  429: 'Locked out / rate limited (see Retry-After)',
  503: 'A dependency is down; nothing was written',
};

/** OpenAPI 3.1 document generated from the same route specs that serve requests, so it cannot drift. */
export function openApiDocument(routes: AnyRoute[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const oaPath = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const params: unknown[] = [];
    const paramSchema = r.params ? (convertSchema(r.params) as any) : undefined;
    for (const name of (r.path.match(/:([A-Za-z]+)/g) ?? []).map((p) => p.slice(1))) {
      params.push({ name, in: 'path', required: true, schema: paramSchema?.properties?.[name] ?? { type: 'string' } });
    }
    if (r.query) {
      const qs = convertSchema(r.query) as any;
      for (const [name, schema] of Object.entries(qs.properties ?? {})) {
        params.push({ name, in: 'query', required: (qs.required ?? []).includes(name), schema });
      }
    }
    const statuses = new Set<number>(r.errors ?? []);
    if (r.roles !== 'public') [401, 403].forEach((s) => statuses.add(s));
    if (r.body) [400, 422].forEach((s) => statuses.add(s));
    if (r.params || r.query) statuses.add(422);
    if (r.params) statuses.add(404);
    const responses: Record<string, unknown> = {};
    for (const [status, description] of Object.entries(r.responses)) {
      responses[status] = { description };
    }
    for (const s of [...statuses].sort()) {
      responses[String(s)] = { description: ERROR_TEXT[s] ?? 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    paths[oaPath] ??= {};
    paths[oaPath]![r.method] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.roles === 'public' ? { security: [] } : { description: `Roles: ${r.roles.join(', ')}` }),
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: convertSchema(r.body) } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tillflow API',
      version,
      description:
        'Point-of-sale backend: every order, payment, refund and stock count is a durable Temporal workflow. ' +
        'Money is integer minor units; rates are basis points (1000 = 10%). ' +
        'Real time: WebSocket `GET /ws?token=<token>`; send {"type":"subscribe","topics":["order:<id>","orders:<locationId>",' +
        '"kitchen:<locationId>","display:<terminalId>"]}; events arrive as {"type":"event","topic","event","version","orderId","data"} ' +
        'in version order per order (see the README).',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['detail', 'code', 'timestamp'],
          properties: {
            detail: { type: 'string' },
            code: { type: 'string', enum: ['BAD_REQUEST', 'VALIDATION_ERROR', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'LOCKED_OUT', 'RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL'] },
            timestamp: { type: 'string', format: 'date-time' },
            errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
          },
        },
      },
    },
    paths,
  };
}
