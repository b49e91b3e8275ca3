/**
 * When a dependency fails mid-request the client must know whether its change may have been
 * applied: every 503 carries `outcomeUnknown`, true when Temporal may have taken the Update
 * (DEADLINE_EXCEEDED), false only when nothing can have been written.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Client, Connection } from '@temporalio/client';
import { startHarness, Harness } from './support/harness';
import { createApp } from '../api/app';
import { createKnex } from '../db/knex';
import type { AppDeps } from '../api/types';

let h: Harness;
let cashier: string;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  h = await startHarness();
  cashier = await h.login('3456');
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await h?.close();
});

/** A Temporal connection whose calls to `methods` run out of time (a real gRPC DEADLINE_EXCEEDED). */
async function clientTimingOut(methods: string[]): Promise<Client> {
  const expire: grpc.Interceptor = (options, nextCall) => {
    const timesOut = methods.some((m) => options.method_definition.path.endsWith(`/${m}`));
    return new grpc.InterceptingCall(nextCall(timesOut ? { ...options, deadline: Date.now() - 1 } : options));
  };
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS!, interceptors: [expire] });
  closers.push(() => connection.close());
  return new Client({ connection, namespace: h.deps.config.temporalNamespace });
}

/** This Tillflow's API on other dependencies (same config and token secret). */
async function apiWith(overrides: Partial<AppDeps>): Promise<string> {
  const handle = createApp({ ...h.deps, ...overrides }).callback();
  const server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function call(baseUrl: string, method: string, path: string, body?: unknown) {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${cashier}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function openOrder(): Promise<any> {
  const res = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } });
  expect(res.status).toBe(201);
  return res.body;
}

it('a cart Update that hits DEADLINE_EXCEEDED is 503 UNAVAILABLE with outcomeUnknown true', async () => {
  const o = await openOrder();
  const api = await apiWith({
    temporal: await clientTimingOut(['UpdateWorkflowExecution', 'PollWorkflowExecutionUpdate']),
  });
  const res = await call(api, 'POST', `/api/v1/orders/${o.id}/lines`, {
    itemId: h.shop.items['Croissant'],
    quantity: 1,
  });
  expect(res.status).toBe(503);
  expect(res.body).toMatchObject({
    code: 'UNAVAILABLE',
    outcomeUnknown: true,
    detail: expect.any(String),
    timestamp: expect.any(String),
  });
});

it('a read that hits DEADLINE_EXCEEDED is 503 with outcomeUnknown false (a read writes nothing)', async () => {
  const o = await openOrder();
  const api = await apiWith({ temporal: await clientTimingOut(['QueryWorkflow']) });
  const res = await call(api, 'GET', `/api/v1/orders/${o.id}`);
  expect(res.status).toBe(503);
  expect(res.body).toMatchObject({ code: 'UNAVAILABLE', outcomeUnknown: false });
});

it('Postgres unreachable before any write is 503 with outcomeUnknown false', async () => {
  const knex = createKnex('postgres://nobody:nothing@127.0.0.1:1/none', { min: 0, max: 1 });
  closers.push(() => knex.destroy());
  const api = await apiWith({ knex });
  const res = await call(api, 'POST', '/api/v1/orders', { type: 'takeaway' });
  expect(res.status).toBe(503);
  expect(res.body).toMatchObject({ code: 'UNAVAILABLE', outcomeUnknown: false });
});
