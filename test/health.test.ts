import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { startHarness, Harness } from './support/harness';
import { createApp } from '../api/app';
import knexFactory from 'knex';

/**
 * Health endpoints for people, supervisors and load balancers: /health with process figures and
 * per-dependency latency, /health/live (process up) and /health/ready (dependencies up). The
 * "database down" case is a real app whose database is a closed port.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
}, 120_000);
afterAll(async () => h?.close());

/** The same app as the harness's, but its database is a port nothing listens on. */
async function withDeadDatabase<T>(fn: (baseUrl: string) => Promise<T>): Promise<T> {
  const quiet = () => undefined; // knex logs every refused connection; the 503 is what counts
  const knex = knexFactory({
    client: 'pg',
    connection: 'postgres://tillflow:x@127.0.0.1:1/tillflow',
    pool: { min: 0, max: 1 },
    log: { warn: quiet, error: quiet, debug: quiet, deprecate: quiet },
  });
  const server: Server = createApp({ ...h.deps, knex }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    return await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    await new Promise((r) => server.close(r));
    await knex.destroy();
  }
}

const getJson = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as any };
};

it('reports memory, event-loop delay and each dependency with its latency on /health', async () => {
  const res = await h.api('GET', '/health');
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({
    status: 'healthy',
    checks: { database: 'ok', temporal: 'ok' },
    latencyMs: { database: expect.any(Number), temporal: expect.any(Number) },
    memory: {
      rssMb: expect.any(Number),
      heapUsedMb: expect.any(Number),
      heapTotalMb: expect.any(Number),
      externalMb: expect.any(Number),
    },
    eventLoopDelayMs: { mean: expect.any(Number), p99: expect.any(Number), max: expect.any(Number) },
  });
  expect(res.body.memory.rssMb).toBeGreaterThan(0);
  expect(res.body.latencyMs.database).toBeGreaterThanOrEqual(0);
});

it('answers /health/live and /health/ready with 200 when everything is up', async () => {
  expect(await h.api('GET', '/health/live')).toMatchObject({ status: 200, body: { status: 'live' } });
  expect(await h.api('GET', '/health/ready')).toMatchObject({
    status: 200,
    body: { status: 'ready', checks: { database: 'ok', temporal: 'ok' } },
  });
});

it('is not ready (503, outcomeUnknown false) but still live when the database is down', async () => {
  await withDeadDatabase(async (base) => {
    const ready = await getJson(`${base}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({
      code: 'UNAVAILABLE',
      detail: expect.stringContaining('database'),
      timestamp: expect.any(String),
      outcomeUnknown: false,
      checks: { temporal: 'ok' },
    });
    expect(ready.body.checks.database).toMatch(/^error: /);
    expect(await getJson(`${base}/health/live`)).toMatchObject({ status: 200, body: { status: 'live' } });
    expect(await getJson(`${base}/health`)).toMatchObject({ status: 503, body: { status: 'unhealthy' } });
  });
});

it('documents the health endpoints in the OpenAPI spec', async () => {
  const spec = await h.api('GET', '/openapi.json');
  for (const p of ['/health', '/health/live', '/health/ready', '/metrics'])
    expect(spec.body.paths[p].get).toBeDefined();
  expect(Object.keys(spec.body.paths['/health/ready'].get.responses)).toEqual(expect.arrayContaining(['200', '503']));
});
