import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import * as yup from 'yup';
import { content, json, route } from '../route';
import { ref } from '../openapi-schemas';
import { registry } from '../metrics';
import type { AppDeps } from '../types';
import { openApiDocument } from '../route';
import type { AnyRoute } from '../route';

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export async function healthChecks(deps: AppDeps): Promise<{ database: string; temporal: string }> {
  const [database, temporal] = await Promise.all([
    withTimeout(deps.knex.raw('select 1'), 2000).then(() => 'ok', (e: Error) => `error: ${e.message}`),
    withTimeout(deps.temporal.workflowService.describeNamespace({ namespace: deps.config.temporalNamespace }), 2000).then(
      () => 'ok',
      (e: Error) => `error: ${e.message}`,
    ),
  ]);
  return { database, temporal };
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
const PAY_DONE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function systemRoutes(all: () => AnyRoute[]): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/health',
      summary: 'Liveness and dependency checks (503 when the database or Temporal is down)',
      tag: 'System',
      roles: 'public',
      responses: { 200: json('healthy', ref('Health')), 503: json('unhealthy', ref('Health')) },
      handler: async ({ deps, ctx }) => {
        const checks = await healthChecks(deps);
        const healthy = checks.database === 'ok' && checks.temporal === 'ok';
        ctx.status = healthy ? 200 : 503;
        return {
          status: healthy ? 'healthy' : 'unhealthy',
          timestamp: new Date().toISOString(),
          version: deps.version,
          uptime: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
          checks,
          ...(healthy ? {} : { outcomeUnknown: false }), // every 503 says whether anything was written: a check writes nothing
          ...(deps.paymentModes ? { payments: deps.paymentModes, sandbox: Object.values(deps.paymentModes).includes('sandbox') } : {}),
        };
      },
    }),
    route({
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
    }),
    route({
      method: 'get',
      path: '/openapi.json',
      summary: 'OpenAPI 3.1 specification, generated from the routes themselves',
      tag: 'System',
      roles: 'public',
      responses: { 200: json('the spec', { type: 'object', required: ['openapi', 'paths'] }) },
      handler: async ({ deps }) => openApiDocument(all(), deps.version),
    }),
    route({
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
    }),
    route({
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
    }),
    route({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics',
      tag: 'System',
      roles: 'public',
      responses: { 200: content('Prometheus text format', 'text/plain') },
      handler: async ({ ctx }) => {
        ctx.type = registry.contentType;
        return registry.metrics();
      },
    }),
  ];
}
