import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, timingSafeEqual } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import * as yup from 'yup';
import { content, json, route } from '../route';
import { ref } from '../openapi-schemas';
import { registry, scrape } from '../metrics';
import { errorBody, unauthenticated } from '../errors';
import type { AppDeps } from '../types';
import { openApiDocument } from '../route';
import type { AnyRoute } from '../route';

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface HealthChecks {
  database: string;
  temporal: string;
}

/** 'ok' or 'error: …' per dependency, and how long each answer took (a slow database shows before it fails). */
export async function healthChecks(
  deps: AppDeps,
): Promise<{ checks: HealthChecks; latencyMs: Record<keyof HealthChecks, number> }> {
  const timed = async (probe: () => Promise<unknown>) => {
    const started = performance.now();
    const status = await withTimeout(probe(), 2000).then(
      () => 'ok',
      (e: Error) => `error: ${e.message}`,
    );
    return { status, ms: Math.round((performance.now() - started) * 10) / 10 };
  };
  const [database, temporal] = await Promise.all([
    timed(() => deps.knex.raw('select 1')),
    timed(() => deps.temporal.workflowService.describeNamespace({ namespace: deps.config.temporalNamespace })),
  ]);
  return {
    checks: { database: database.status, temporal: temporal.status },
    latencyMs: { database: database.ms, temporal: temporal.ms },
  };
}

const allOk = (checks: HealthChecks) => Object.values(checks).every((c) => c === 'ok');

// Event-loop delay since start: a blocked loop (CPU starvation, a sync hot path) shows here first.
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();

function processFigures() {
  const m = process.memoryUsage();
  const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;
  const ms = (ns: number) => Math.round((ns / 1e6) * 10) / 10;
  return {
    memory: { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external) },
    eventLoopDelayMs: {
      mean: ms(loopDelay.mean || 0),
      p99: ms(loopDelay.percentile(99) || 0),
      max: ms(loopDelay.max || 0),
    },
  };
}

/** Constant-time check of `Authorization: Bearer <METRICS_TOKEN>` (when the token is configured). */
function checkMetricsToken(deps: AppDeps, header: string): void {
  const expected = deps.config.metricsToken;
  if (!expected) return;
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7).trim() : '');
  const want = Buffer.from(expected);
  if (given.length !== want.length || !timingSafeEqual(given, want))
    throw unauthenticated('GET /metrics needs Authorization: Bearer <METRICS_TOKEN>');
}

const swaggerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
// validatorUrl null: the page never calls the public swagger.io validator.
const DOCS_INIT = "SwaggerUIBundle({url: '/openapi.json', dom_id: '#ui', validatorUrl: null});";
const DOCS_HTML = `<!doctype html><html><head><meta charset="utf-8"><title>Tillflow API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>${DOCS_INIT}</script></body></html>`;
/** What the docs page needs and nothing more: its own assets, its one inline script (by hash), the spec. */
const DOCS_CSP = [
  "default-src 'none'",
  `script-src 'self' 'sha256-${createHash('sha256').update(DOCS_INIT).digest('base64')}'`,
  "style-src 'self' 'unsafe-inline'", // Swagger UI sets inline styles
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');
/** The payment-done page is static text with inline styles. */
const PAY_DONE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const health = route({
  method: 'get',
  path: '/health',
  summary:
    'Dependency checks with their latency, memory and event-loop delay (503 when the database or Temporal is down)',
  tag: 'System',
  roles: 'public',
  responses: { 200: json('healthy', ref('Health')), 503: json('unhealthy', ref('Health')) },
  handler: async ({ deps, ctx }) => {
    const { checks, latencyMs } = await healthChecks(deps);
    const healthy = allOk(checks);
    ctx.status = healthy ? 200 : 503;
    return {
      status: healthy ? 'healthy' : 'unhealthy',
      timestamp: new Date().toISOString(),
      version: deps.version,
      uptime: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
      checks,
      latencyMs,
      ...processFigures(),
      ...(healthy ? {} : { outcomeUnknown: false }), // every 503 says whether anything was written: a check writes nothing
      ...(deps.paymentModes
        ? { payments: deps.paymentModes, sandbox: Object.values(deps.paymentModes).includes('sandbox') }
        : {}),
    };
  },
});

const liveness = route({
  method: 'get',
  path: '/health/live',
  summary:
    'Liveness for supervisors: 200 while the process serves HTTP (checks no dependency, so a database outage never restarts it)',
  tag: 'System',
  roles: 'public',
  responses: { 200: json('the process is up', ref('Live')) },
  handler: async () => ({ status: 'live', timestamp: new Date().toISOString() }),
});

const readiness = route({
  method: 'get',
  path: '/health/ready',
  summary:
    'Readiness for load balancers: 200 when the database and Temporal answer, else 503 (take this replica out of rotation)',
  tag: 'System',
  roles: 'public',
  responses: { 200: json('ready', ref('Ready')), 503: 'a dependency is down (error body, outcomeUnknown false)' },
  handler: async ({ deps, ctx }) => {
    const { checks, latencyMs } = await healthChecks(deps);
    if (allOk(checks)) return { status: 'ready', timestamp: new Date().toISOString(), checks, latencyMs };
    const down = Object.entries(checks)
      .filter(([, v]) => v !== 'ok')
      .map(([k]) => k);
    ctx.status = 503;
    // Nothing was attempted, so a client knows no write is in doubt.
    return {
      ...errorBody('UNAVAILABLE', `Not ready: ${down.join(', ')} unavailable`),
      outcomeUnknown: false,
      checks,
      latencyMs,
    };
  },
});

const payDone = route({
  method: 'get',
  path: '/pay/done',
  summary: 'Where a QR payment page sends the customer afterwards',
  tag: 'System',
  roles: 'public',
  responses: { 200: content('HTML page', 'text/html') },
  handler: async ({ ctx }) => {
    ctx.type = 'html';
    ctx.set('Content-Security-Policy', PAY_DONE_CSP);
    const cancelled = ctx.query.cancelled !== undefined;
    return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Tillflow</title></head><body style="font-family:sans-serif;text-align:center;margin-top:20vh"><h1>${cancelled ? 'Payment cancelled' : 'Thank you!'}</h1><p>${cancelled ? 'Nothing was charged. Please ask at the counter.' : 'Your payment was received. You can close this page.'}</p></body></html>`;
  },
});

const docsPage = route({
  method: 'get',
  path: '/docs',
  summary: 'Interactive API docs',
  tag: 'System',
  roles: 'public',
  responses: { 200: content('HTML page', 'text/html') },
  handler: async ({ ctx }) => {
    ctx.type = 'html';
    ctx.set('Content-Security-Policy', DOCS_CSP);
    return DOCS_HTML;
  },
});

const docsAsset = route({
  method: 'get',
  path: '/docs/:file',
  summary: 'Static assets of the docs page',
  tag: 'System',
  roles: 'public',
  params: yup.object({ file: yup.string().oneOf(['swagger-ui.css', 'swagger-ui-bundle.js']).required() }),
  responses: { 200: content('asset', ['text/css', 'text/javascript']) },
  handler: async ({ params, ctx }) => {
    ctx.type = path.extname(params.file);
    return fs.createReadStream(path.join(swaggerDir, params.file));
  },
});

const metrics = route({
  method: 'get',
  path: '/metrics',
  summary:
    "Prometheus metrics: this process's HTTP and WebSocket figures, and the business figures read from Postgres (the same on every replica). Needs Bearer METRICS_TOKEN when that is set",
  tag: 'System',
  roles: 'public',
  responses: { 200: content('Prometheus text format', 'text/plain') },
  errors: [401],
  handler: async ({ deps, ctx }) => {
    checkMetricsToken(deps, ctx.get('authorization'));
    const text = await scrape(deps.knex);
    ctx.type = registry.contentType;
    return text;
  },
});

export function systemRoutes(all: () => AnyRoute[]): AnyRoute[] {
  return [
    health,
    liveness,
    readiness,
    payDone,
    route({
      method: 'get',
      path: '/openapi.json',
      summary: 'OpenAPI 3.1 specification, generated from the routes themselves',
      tag: 'System',
      roles: 'public',
      responses: { 200: json('the spec', { type: 'object', required: ['openapi', 'paths'] }) },
      handler: async ({ deps }) => openApiDocument(all(), deps.version),
    }),
    docsPage,
    docsAsset,
    metrics,
  ];
}
