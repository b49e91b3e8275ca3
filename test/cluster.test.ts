import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { Knex } from 'knex';
import { createKnex } from '../db/knex';
import { CLUSTER_INFO_FILE, type ClusterInfo } from '../cluster/cluster';
import { CLUSTER_PORT_BLOCK } from '../cluster/temporal';
import { freePortBlock } from '../cluster/ports';
import { endProcess, killTillflowProcesses, startClusterProcess, startTillflowProcess } from '../cluster/replicas';
import { TEST_LIMITS } from './support/harness';
import { until } from './support/payments';
import { connectSocket } from './support/ws-client';

/**
 * The production topology of README "Running in production", started by the same code as
 * `npm run cluster`: Temporal server v1.29.1 on PostgreSQL (4 shards, SQL visibility), the
 * sandbox gateways as their own process, 2 API and 2 worker replicas as separate processes.
 * Requests alternate between the replicas; webhooks arrive at the second API replica.
 */
jest.setTimeout(240_000);

let cluster: ClusterInfo;
let clusterProcess: ChildProcess;
let knex: Knex;
let dir: string;
const workers: ChildProcess[] = [];
let tokens: { cashier: string; manager: string };
let items: Record<string, string>;
let locationId: string;

const replicaEnv = (role: 'api' | 'worker', i: number) => ({
  ...cluster.env[role][i],
  ...TEST_LIMITS,
  NODE_ENV: 'test',
});
const readInfo = (): ClusterInfo => JSON.parse(fs.readFileSync(path.join(dir, CLUSTER_INFO_FILE), 'utf8'));
const startWorker = async (i: number) => (workers[i] = await startTillflowProcess(replicaEnv('worker', i)));

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-cluster-'));
  fs.chmodSync(dir, 0o755); // the embedded PostgreSQL runs as the postgres user under root
  clusterProcess = await startClusterProcess(dir, await freePortBlock(CLUSTER_PORT_BLOCK));
  cluster = readInfo();
  await Promise.all([startWorker(0), startWorker(1)]);
  await startTillflowProcess(replicaEnv('api', 0));
  await startTillflowProcess(replicaEnv('api', 1));
  knex = createKnex(cluster.databaseUrl, { min: 0, max: 2 });
  tokens = { cashier: await login('3456'), manager: await login('2345') };
  const rows: Array<{ id: string; name: string }> = await knex('items').select('id', 'name');
  items = Object.fromEntries(rows.map((r) => [r.name, r.id]));
  locationId = (await knex('locations').first('id')).id;
}, 900_000);

afterAll(async () => {
  await knex?.destroy();
  await killTillflowProcesses();
  if (clusterProcess) await endProcess(clusterProcess, 'SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
});

async function call(
  replica: 0 | 1,
  method: string,
  url: string,
  opts: { token?: string; body?: unknown; key?: string } = {},
) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.key) headers['idempotency-key'] = opts.key;
  const res = await fetch(cluster.apiUrls[replica] + url, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function login(pin: string): Promise<string> {
  const res = await call(0, 'POST', '/api/v1/auth/login', { body: { pin } });
  if (res.status !== 200) throw new Error(`login ${pin}: ${res.status}`);
  return res.body.token;
}

const openOrder = async (replica: 0 | 1, lines: Array<{ itemId: string; quantity: number }>) => {
  const res = await call(replica, 'POST', '/api/v1/orders', {
    token: tokens.cashier,
    body: { type: 'takeaway', lines },
  });
  expect(res.status).toBe(201);
  return res.body;
};
const addLine = (replica: 0 | 1, orderId: string, itemId: string, quantity = 1) =>
  call(replica, 'POST', `/api/v1/orders/${orderId}/lines`, { token: tokens.cashier, body: { itemId, quantity } });
const pay = (replica: 0 | 1, orderId: string, body: Record<string, unknown>, key = randomUUID()) =>
  call(replica, 'POST', `/api/v1/orders/${orderId}/payments`, { token: tokens.cashier, body, key });
const getOrder = async (replica: 0 | 1, id: string) =>
  (await call(replica, 'GET', `/api/v1/orders/${id}`, { token: tokens.cashier })).body;
const persisted = (id: string) =>
  until(
    () => knex('orders').where({ id }).whereNotNull('persisted_at').count(),
    (r) => r[0].count === '1',
    60_000,
  );
const saleMovements = (id: string) =>
  knex('inventory_movements').where({ order_id: id, reason: 'sale' }).select('item_id', 'delta');
const intentsOf = async (orderId: string) =>
  ((await charges()).stripe.paymentIntents as any[]).filter((pi) => pi.metadata?.orderId === orderId);

/** The reader takes `delayMs` to approve payments of this amount: the payment stays pending meanwhile. */
const slowReaderFor = async (amount: number, delayMs: number) => {
  const script = { outcome: 'success', outcomeDelayMs: delayMs };
  const res = await fetch(`${cluster.sandboxUrl}/sandbox/script`, {
    method: 'PUT',
    body: JSON.stringify({ gateway: 'stripe', match: amount, script }),
  });
  expect(res.status).toBe(200);
};
const charges = async (): Promise<any> => (await fetch(`${cluster.sandboxUrl}/sandbox/charges`)).json();

/** A checkout whose lines and payment go through the API replica that did not open it. */
async function cashCheckout(): Promise<any> {
  const o = await openOrder(0, [{ itemId: items['Burger'], quantity: 1 }]);
  expect((await addLine(1, o.id, items['Croissant'])).status).toBeLessThan(300);
  const total = (await getOrder(1, o.id)).totals.total;
  expect((await pay(0, o.id, { method: 'cash', amount: total, tendered: total })).status).toBe(201);
  return o;
}

it('runs an end-to-end checkout across both API replicas: closed, persisted once, stock deducted once', async () => {
  const o = await cashCheckout();
  const closed = await until(
    () => getOrder(1, o.id),
    (x) => x.status === 'closed',
  );
  expect(closed.totals.balance).toBe(0);
  await persisted(o.id);
  expect(await saleMovements(o.id)).toEqual([{ item_id: items['Croissant'], delta: -1 }]);
});

it('completes a Stripe reader payment started at one API replica through the webhook at the other', async () => {
  const o = await openOrder(0, [{ itemId: items['Burger'], quantity: 3 }]);
  await slowReaderFor(o.totals.total, 2_000);
  const res = await pay(0, o.id, {
    method: 'card',
    provider: 'stripe',
    amount: o.totals.total,
    deviceId: 'tmr_FDOt2wlRZEdpd7',
  });
  expect(res.status).toBe(202);
  await until(
    () => getOrder(0, o.id),
    (x) => x.status === 'closed',
    60_000,
  );
  const webhooks = ((await charges()).stripe.webhooks as any[]).filter((w) => w.objectId === res.body.reference);
  // The sandbox sends webhooks only to the second replica (PUBLIC_BASE_URL), and it accepted them.
  expect(webhooks.find((w) => w.type === 'payment_intent.succeeded')).toMatchObject({ status: 200 });
  expect(await intentsOf(o.id)).toHaveLength(1);
});

it('refunds a card payment through the other API replica at the gateway', async () => {
  const o = await openOrder(0, [{ itemId: items['Burger'], quantity: 1 }]);
  const paid = await pay(0, o.id, {
    method: 'card',
    provider: 'stripe',
    amount: o.totals.total,
    sourceId: 'pm_card_visa',
  });
  expect(paid.status).toBe(201);
  await persisted(o.id);
  const refund = await call(1, 'POST', `/api/v1/orders/${o.id}/refunds`, {
    token: tokens.manager,
    body: { reason: 'cluster test' },
    key: randomUUID(),
  });
  expect(refund.status).toBe(201);
  expect(refund.body).toMatchObject({ status: 'succeeded', amount: o.totals.total });
  const refunds = ((await charges()).stripe.refunds as any[]).filter((r) => r.payment_intent === paid.body.reference);
  expect(refunds).toHaveLength(1);
});

it('runs a stock count opened at one replica and completed at the other', async () => {
  const croissant = items['Croissant'];
  const before = (await knex('items').where({ id: croissant }).first('stock_quantity')).stock_quantity;
  const count = await call(0, 'POST', '/api/v1/stock-counts', {
    token: tokens.manager,
    body: { itemIds: [croissant] },
  });
  expect(count.status).toBe(201);
  expect(
    (
      await call(1, 'POST', `/api/v1/stock-counts/${count.body.id}/counts`, {
        token: tokens.manager,
        body: { itemId: croissant, counted: before - 2 },
      })
    ).status,
  ).toBeLessThan(300);
  const done = await call(0, 'POST', `/api/v1/stock-counts/${count.body.id}/complete`, { token: tokens.manager });
  expect(done.body.status).toBe('completed');
  expect((await knex('items').where({ id: croissant }).first('stock_quantity')).stock_quantity).toBe(before - 2);
});

it('fans an order change made at one replica out to WebSocket clients of both', async () => {
  const sockets = await Promise.all(cluster.apiUrls.map((url) => connectSocket(url, tokens.cashier)));
  try {
    for (const s of sockets) {
      s.send({ type: 'subscribe', topics: [`orders:${locationId}`] });
      await s.waitFor((m) => m.type === 'subscribed');
    }
    const o = await openOrder(0, [{ itemId: items['Burger'], quantity: 1 }]);
    expect((await addLine(0, o.id, items['Croissant'])).status).toBeLessThan(300);
    for (const s of sockets) {
      await s.waitFor((m) => m.type === 'event' && m.orderId === o.id && m.version >= 2, 30_000);
    }
  } finally {
    await Promise.all(sockets.map((s) => s.close()));
  }
});

it('finishes a checkout on the other worker when one is SIGKILLed in the middle: one persisted order, one deduction', async () => {
  const o = await openOrder(0, [{ itemId: items['Croissant'], quantity: 1 }]);
  await endProcess(workers[0], 'SIGKILL');
  try {
    expect((await addLine(1, o.id, items['Burger'])).status).toBeLessThan(300);
    const total = (await getOrder(0, o.id)).totals.total;
    expect((await pay(0, o.id, { method: 'cash', amount: total, tendered: total })).status).toBe(201);
    await persisted(o.id);
    expect(await saleMovements(o.id)).toEqual([{ item_id: items['Croissant'], delta: -1 }]);
  } finally {
    await startWorker(0);
  }
});

it('finishes a card payment when a worker is SIGKILLed while it is pending: exactly one charge', async () => {
  const o = await openOrder(1, [{ itemId: items['Burger'], quantity: 4 }]);
  await slowReaderFor(o.totals.total, 5_000);
  const res = await pay(1, o.id, {
    method: 'card',
    provider: 'stripe',
    amount: o.totals.total,
    deviceId: 'tmr_FDOt2wlRZEdpd7',
  });
  expect(res.status).toBe(202);
  await endProcess(workers[1], 'SIGKILL');
  try {
    await until(
      () => getOrder(0, o.id),
      (x) => x.status === 'closed',
      90_000,
    );
    await persisted(o.id);
    const intents = await intentsOf(o.id);
    expect(intents.map((pi) => pi.status)).toEqual(['succeeded']);
    expect(await knex('payments').where({ order_id: o.id, status: 'succeeded' }).count()).toEqual([{ count: '1' }]);
  } finally {
    await startWorker(1);
  }
});

it('continues an open order after the Temporal server process is killed and restarted', async () => {
  const o = await openOrder(0, [{ itemId: items['Croissant'], quantity: 1 }]);
  const pid = cluster.temporalServerPid!;
  process.kill(pid, 'SIGKILL');
  // `npm run cluster` starts a server that died again, like a service manager.
  await until(
    async () => readInfo().temporalServerPid,
    (p) => p !== undefined && p !== pid,
    120_000,
  );
  // Both replicas reconnect on their own; wait until each reports Temporal healthy again.
  for (const replica of [0, 1] as const) {
    await until(
      () => call(replica, 'GET', '/health'),
      (r) => r.body?.checks?.temporal === 'ok',
      90_000,
    );
  }
  expect((await addLine(1, o.id, items['Burger'])).status).toBeLessThan(300);
  const total = (await getOrder(0, o.id)).totals.total;
  expect((await pay(0, o.id, { method: 'cash', amount: total, tendered: total })).status).toBe(201);
  await persisted(o.id);
  expect(await saleMovements(o.id)).toEqual([{ item_id: items['Croissant'], delta: -1 }]);
});
