import type Router from '@koa/router';
import type { ParameterizedContext } from 'koa';
import * as yup from 'yup';
import { convertSchema } from '@sodaru/yup-to-json-schema';
import { forbidden, unauthenticated, validationError } from './errors';
import { requiredIdempotencyKey } from './idempotency';
import { LOCATION_HEADER } from './auth';
import type { AppDeps, AuthContext } from './types';
import type { Role } from '../core/roles';
import { componentSchemas } from './openapi-schemas';

/** Each list is a role and everyone above it (owner > admin > manager > cashier; kitchen reads its feeds). */
export const OWNER: Role[] = ['owner'];
export const ADMIN: Role[] = ['owner', 'admin'];
export const MANAGER: Role[] = ['owner', 'admin', 'manager'];
export const CASHIER: Role[] = ['owner', 'admin', 'manager', 'cashier'];
export const KITCHEN: Role[] = ['owner', 'admin', 'manager', 'cashier', 'kitchen'];

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
  /** Status → description, or a description with the body's schema (and content type, JSON by default). */
  responses: Record<number, string | ResponseSpec>;
  /** Extra documented error statuses beyond the ones derived from the spec. */
  errors?: number[];
  /** 'required': the `Idempotency-Key` header must be sent (422 otherwise); documented in the spec. */
  idempotencyKey?: 'required';
  handler: (input: RouteInput<Infer<P>, Infer<Q>, Infer<B>>) => Promise<unknown>;
}

export type AnyRoute = RouteSpec<any, any, any>;

export interface ResponseSpec {
  description: string;
  schema?: Record<string, unknown>;
  /** application/json unless given; several when the body's type depends on the request. */
  contentType?: string | string[];
  /** Further content types the same response may take (e.g. text/csv of a report), each with its schema. */
  alternatives?: Record<string, Record<string, unknown>>;
}
/** A JSON response whose body has this schema (see api/openapi-schemas.ts). */
export const json = (description: string, schema: Record<string, unknown>): ResponseSpec => ({ description, schema });
/** A response of another content type (HTML, CSS, Prometheus text…). */
export const content = (
  description: string,
  contentType: string | string[],
  schema: Record<string, unknown> = { type: 'string' },
): ResponseSpec => ({
  description,
  contentType,
  schema,
});

function responseObject(r: string | ResponseSpec) {
  if (typeof r === 'string') return { description: r };
  if (!r.schema) return { description: r.description };
  const types = [r.contentType ?? 'application/json'].flat();
  const alternatives = Object.entries(r.alternatives ?? {}).map(([t, schema]) => [t, { schema }]);
  return {
    description: r.description,
    content: Object.fromEntries([...types.map((t) => [t, { schema: r.schema }]), ...alternatives]),
  };
}

export function route<
  P extends Schema | undefined = undefined,
  Q extends Schema | undefined = undefined,
  B extends Schema | undefined = undefined,
>(spec: RouteSpec<P, Q, B>): AnyRoute {
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
/** Keys that name Object.prototype members: yup looks fields up by key and crashes on them. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** The path of the first reserved key anywhere in a JSON value or query object, if any. */
function reservedKeyPath(value: unknown, path = ''): string | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = reservedKeyPath(value[i], `${path}[${i}]`);
      if (found) return found;
    }
  } else if (value && typeof value === 'object') {
    for (const key of Object.keys(value)) {
      const at = path ? `${path}.${key}` : key;
      if (RESERVED_KEYS.has(key)) return at;
      const found = reservedKeyPath((value as Record<string, unknown>)[key], at);
      if (found) return found;
    }
  }
  return undefined;
}

export async function validate<S extends Schema>(schema: S, value: unknown, where: string): Promise<yup.InferType<S>> {
  const reserved = reservedKeyPath(value);
  if (reserved) {
    const path = where === 'body' ? reserved : `${where}.${reserved}`;
    throw validationError(`${path} is not an accepted field`, [
      { path, message: 'Field names __proto__, constructor and prototype are not accepted' },
    ]);
  }
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
      const auth = r.roles === 'public' ? (ctx.state.auth as AuthContext) : requireRole(ctx.state, r.roles);
      const params = r.params ? await validate(r.params, ctx.params, 'params') : ctx.params;
      const query = r.query ? await validate(r.query, ctx.query, 'query') : ctx.query;
      const body = r.body ? await validate(r.body, (ctx.request as any).body, 'body') : undefined;
      if (r.idempotencyKey === 'required') requiredIdempotencyKey(ctx);
      const result = await r.handler({ params, query, body, auth, deps, ctx });
      if (result !== undefined) ctx.body = result;
      else if (ctx.body === undefined && ctx.status === 404) ctx.status = 204;
    });
  }
}

/** The request's session (401, or the auth middleware's own refusal such as a foreign location) with one of the roles (403). */
function requireRole(state: { auth?: AuthContext; authError?: Error }, roles: Role[]): AuthContext {
  const { auth } = state;
  if (!auth) throw state.authError ?? unauthenticated();
  if (!roles.includes(auth.role)) throw forbidden(`This needs one of the roles: ${roles.join(', ')}`);
  return auth;
}

const ERROR_TEXT: Record<number, string> = {
  400: 'Malformed JSON (code BAD_REQUEST)',
  401: 'Missing, expired or revoked token',
  403: 'Role not allowed',
  404: 'Not found',
  409: 'The resource state forbids this',
  413: 'Body over 1 MB (code BAD_REQUEST)',
  422: 'Validation error (per-field `errors`)',
  429: 'Locked out / rate limited (see Retry-After)',
  503: 'A dependency is down: `outcomeUnknown` false = nothing was written; true = the change may have been applied (retry with the same Idempotency-Key)',
};

type JsonSchema = Record<string, any>;
type Converter = (description: any, converters: Record<string, Converter>) => JsonSchema;
const yupTests = (d: { tests?: { name?: string }[] }) => new Set((d.tests ?? []).map((t) => t.name));

/** An enum of a nullable field must list null too, or null (which the server accepts) is invalid by the spec. */
function nullableEnum(schema: JsonSchema, d: { nullable?: boolean }): JsonSchema {
  if (d.nullable && Array.isArray(schema.enum) && !schema.enum.includes(null)) schema.enum = [...schema.enum, null];
  return schema;
}

/**
 * yup → JSON Schema with the rules the library leaves out: unknown fields refused
 * (additionalProperties: false), PATCH bodies that must change something (minProperties: 1),
 * arrays that must not repeat (uniqueItems) and nullable enums.
 */
function withShapeRules(base: Record<string, Converter>): Record<string, Converter> {
  const wrap =
    (type: string, extra: (schema: JsonSchema, d: any) => void): Converter =>
    (d, all) => {
      const schema = nullableEnum(base[type]!(d, all), d);
      extra(schema, d);
      return schema;
    };
  return {
    ...base,
    string: wrap('string', () => undefined),
    number: wrap('number', () => undefined),
    object: wrap('object', (schema, d) => {
      const tests = yupTests(d);
      if (tests.has('noUnknown')) schema.additionalProperties = false;
      if (tests.has('non-empty')) schema.minProperties = 1;
      delete schema.default; // yup describes every object with a default of undefined fields
    }),
    array: wrap('array', (schema, d) => {
      if (yupTests(d).has('unique')) schema.uniqueItems = true;
    }),
  };
}

/** The library's own converters (it exports only convertSchema), wrapped by ours. */
function libraryConverters(): Record<string, Converter> {
  const types = ['string', 'number', 'boolean', 'date', 'array', 'object', 'tuple', 'mixed', 'lazy'];
  return Object.fromEntries(
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    types.map((t) => [t, require(`@sodaru/yup-to-json-schema/dist/converters/${t}`).default as Converter]),
  );
}

let shapeConverters: Record<string, Converter> | undefined;
/** The JSON Schema of a yup schema, as the spec states it. */
export function jsonSchemaOf(schema: yup.AnySchema): JsonSchema {
  shapeConverters ??= withShapeRules(libraryConverters());
  return convertSchema(schema, { converters: shapeConverters as never }) as JsonSchema;
}

/** Declared on every route with a token (api/auth.ts atLocation decides it). */
const locationHeader = {
  name: LOCATION_HEADER,
  in: 'header',
  required: false,
  description:
    "Owners: the location of their organisation this request works at (default: the owner's own). " +
    'Everyone else may send only their own location. Any other id answers 404',
  schema: { type: 'string', format: 'uuid' },
};

/** The operation's path, query and header parameters. */
function routeParameters(r: AnyRoute): unknown[] {
  const params: unknown[] = [];
  const paramSchema = r.params ? jsonSchemaOf(r.params) : undefined;
  for (const name of (r.path.match(/:([A-Za-z]+)/g) ?? []).map((p) => p.slice(1))) {
    params.push({ name, in: 'path', required: true, schema: paramSchema?.properties?.[name] ?? { type: 'string' } });
  }
  if (r.query) {
    const qs = jsonSchemaOf(r.query);
    for (const [name, schema] of Object.entries(qs.properties ?? {})) {
      params.push({ name, in: 'query', required: (qs.required ?? []).includes(name), schema });
    }
  }
  if (r.idempotencyKey === 'required') {
    params.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: true,
      description: 'A retry with the same key returns the first result and changes nothing',
      schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,128}$' },
    });
  }
  if (r.roles !== 'public') params.push(locationHeader);
  return params;
}

/** The route's declared responses, then every error status it can answer (in the error format). */
function routeResponses(r: AnyRoute): Record<string, unknown> {
  const statuses = new Set<number>(r.errors ?? []);
  // 404: a location the token may not use (see locationHeader).
  if (r.roles !== 'public') [401, 403, 404].forEach((s) => statuses.add(s));
  if (r.body) [400, 413, 422].forEach((s) => statuses.add(s));
  if (r.params || r.query) statuses.add(422);
  if (r.params) statuses.add(404);
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(r.responses)) responses[status] = responseObject(response);
  for (const s of [...statuses].sort()) {
    responses[String(s)] = {
      description: ERROR_TEXT[s] ?? 'Error',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  return responses;
}

/** The OpenAPI operation of one route. */
function operationOf(r: AnyRoute): Record<string, unknown> {
  const params = routeParameters(r);
  const responses = routeResponses(r);
  return {
    summary: r.summary,
    tags: [r.tag],
    ...(r.roles === 'public' ? { security: [] } : { description: `Roles: ${r.roles.join(', ')}` }),
    ...(params.length ? { parameters: params } : {}),
    ...(r.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchemaOf(r.body) } } } }
      : {}),
    responses,
  };
}

const API_DESCRIPTION =
  'Point-of-sale backend: every order, payment, refund and stock count is a durable Temporal workflow. ' +
  'Money is integer minor units; rates are basis points (1000 = 10%). ' +
  'Real time: WebSocket `GET /ws?token=<token>`; send {"type":"subscribe","topics":["order:<id>","orders:<locationId>",' +
  '"kitchen:<locationId>","display:<terminalId>"]}; events arrive as {"type":"event","topic","event","version","orderId","data"} ' +
  'in version order per order (see the README). `display:` topics need a display device token (POST /api/v1/displays) and carry the display view; ' +
  'kitchen tokens get the kitchen view. Frames are limited to 64 KiB, 20 topics per message, 50 per socket; a revoked session or device is closed with 4401. ' +
  'A method a path does not declare answers 405 with `Allow` and a body over 1 MB answers 413, both in the error format with code BAD_REQUEST.';

/** The body of every error answer. */
function errorSchema() {
  return {
    type: 'object',
    required: ['detail', 'code', 'timestamp'],
    properties: {
      detail: { type: 'string' },
      code: {
        type: 'string',
        enum: [
          'BAD_REQUEST',
          'VALIDATION_ERROR',
          'UNAUTHENTICATED',
          'FORBIDDEN',
          'NOT_FOUND',
          'CONFLICT',
          'LOCKED_OUT',
          'RATE_LIMITED',
          'UNAVAILABLE',
          'PAYMENT_FAILED',
          'INTERNAL',
        ],
      },
      timestamp: { type: 'string', format: 'date-time' },
      errors: {
        type: 'array',
        items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
      },
      outcomeUnknown: {
        type: 'boolean',
        description: 'On every 503: false = nothing was written; true = the change may have been applied',
      },
    },
  };
}

/** OpenAPI 3.1 document generated from the same route specs that serve requests, so it cannot drift. */
export function openApiDocument(routes: AnyRoute[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const oaPath = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    paths[oaPath] ??= {};
    paths[oaPath]![r.method] = operationOf(r);
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Tillflow API', version, description: API_DESCRIPTION },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { ...componentSchemas, Error: errorSchema() },
    },
    paths,
  };
}
