import { startHarness, Harness } from './support/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

describe('system', () => {
  it('runs a real workflow and activity through Temporal and Postgres', async () => {
    const result = await h.deps.temporal.workflow.execute('systemCheck', {
      taskQueue: h.taskQueue,
      workflowId: `system-check-${Date.now()}`,
      args: ['ping'],
    });
    expect(result.echo).toBe('ping');
    expect(Date.parse(result.databaseTime)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('reports healthy with real database and Temporal checks', async () => {
    const res = await h.api('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'healthy', version: 'test', checks: { database: 'ok', temporal: 'ok' } });
    expect(typeof res.body.uptime).toBe('number');
  });

  it('serves an OpenAPI document listing every route and the docs page', async () => {
    const spec = await h.api('GET', '/openapi.json');
    expect(spec.status).toBe(200);
    expect(spec.body.openapi).toBe('3.1.0');
    expect(spec.body.paths['/api/v1/auth/login'].post.requestBody).toBeDefined();
    const docs = await h.api('GET', '/docs');
    expect(docs.status).toBe(200);
    expect(docs.body).toContain('/openapi.json');
    const asset = await h.api('GET', '/docs/swagger-ui-bundle.js');
    expect(asset.status).toBe(200);
  });

  it('serves Prometheus metrics', async () => {
    const res = await h.api('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.body).toContain('tillflow_http_request_duration_seconds');
  });

  it('answers unknown routes and malformed JSON in the contract error format', async () => {
    const missing = await h.api('GET', '/api/v1/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({
      code: 'NOT_FOUND',
      detail: expect.any(String),
      timestamp: expect.any(String),
    });
    const bad = await h.api('POST', '/api/v1/auth/login', { raw: '{"pin": ' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('BAD_REQUEST');
  });
});
