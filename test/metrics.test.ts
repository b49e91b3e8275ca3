import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startHarness, Harness } from './support/harness';
import { PAYMENT_TEST_TIMING, setShopCurrency, until, waitForOrderClosed, postPayment } from './support/payments';
import { connectSocket } from './support/ws-client';
import { startWorkerProcess, sigkill, stopWorkerProcesses } from './support/worker-process';

/**
 * GET /metrics: the contract's business figures (read from Postgres at scrape time, so they move
 * when a worker closes an order), this process's WebSocket count, the METRICS_TOKEN guard, and
 * the Temporal SDK's own metrics served by a worker process.
 */
const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';
let h: Harness;
let cashier: string;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-metrics-'));

beforeAll(async () => {
  h = await startHarness({
    env: { METRICS_TOKEN, ...PAYMENT_TEST_TIMING, TILLFLOW_PAYMENT_EXPIRE_MS: '60000' },
    sandboxPayments: true,
  });
  await setShopCurrency(h, 'KES'); // M-Pesa takes shillings
  await h.deps.knex('items').where({ id: h.shop.items['Croissant'] }).update({ price: 1000 });
  cashier = await h.login('3456');
}, 120_000);
afterAll(async () => {
  await stopWorkerProcesses();
  await h?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Every sample of the scrape, keyed `name{labels}` exactly as exposed. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`${h.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return parse(await res.text());
}

const ORDERS = 'tillflow_orders_total{status="closed",type="takeaway"}';
const CASH_PAYMENTS = 'tillflow_payments_total{method="cash",status="succeeded"}';
const CASH_SALES = 'tillflow_sales_minor_units_total{currency="KES",method="cash"}';
const KITCHEN_COUNT = 'tillflow_kitchen_seconds_count';
const KITCHEN_FAST = 'tillflow_kitchen_seconds_bucket{le="60"}';
const figures = (s: Map<string, number>) =>
  [ORDERS, CASH_PAYMENTS, CASH_SALES, KITCHEN_COUNT, KITCHEN_FAST].map((k) => s.get(k) ?? 0);

it('moves the order, payment, sales and kitchen figures with a checkout', async () => {
  const before = figures(await scrape());
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Croissant'], quantity: 2 }] },
  });
  expect(created.status).toBe(201);
  const id = created.body.id;
  expect((await h.api('POST', `/api/v1/orders/${id}/submit`, { token: cashier })).status).toBe(200);
  const total = created.body.totals.total;
  const paid = await postPayment(h, cashier, id, { method: 'cash', amount: total, tendered: total });
  expect(paid.body.order.status).toBe('closed');
  expect((await h.api('POST', `/api/v1/orders/${id}/ready`, { token: cashier })).status).toBe(200);

  // The worker persists the close and publishes the bump after answering: wait for the rows.
  const after = await until(
    async () => figures(await scrape()),
    (f) => f[0]! > before[0]! && f[3]! > before[3]!,
  );
  expect(after.map((v, i) => v - before[i]!)).toEqual([1, 1, total, 1, 1]);
});

it('shows a pending M-Pesa payment in the pending gauge until it settles, then counts it', async () => {
  const daraja = h.simulators.daraja!;
  const phone = '254722000111';
  const figures = async () => {
    const s = await scrape();
    return [
      s.get('tillflow_payments_pending{method="mpesa"}') ?? 0,
      s.get('tillflow_payments_total{method="mpesa",status="succeeded"}') ?? 0,
      s.get('tillflow_sales_minor_units_total{currency="KES",method="mpesa"}') ?? 0,
    ];
  };
  const [, succeededBefore, salesBefore] = await figures();
  daraja.script(phone, { outcome: 'timeout', resultCode: 0, pendingQueries: 1_000_000 }); // the customer has not answered
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Croissant'], quantity: 1 }] },
  });
  const pay = await postPayment(h, cashier, created.body.id, { method: 'mpesa', amount: 1000, phone });
  expect(pay.status).toBe(202);
  expect(await figures()).toEqual([1, succeededBefore, salesBefore]);

  for (const push of [...daraja.pushes.values()].filter((p) => p.phone === phone)) push.queriesPending = 0; // now paid
  await waitForOrderClosed(h, cashier, created.body.id);
  expect(await until(figures, (f) => f[0] === 0)).toEqual([0, succeededBefore! + 1, salesBefore! + 1000]);
});

it('exposes every contract metric family with its type', async () => {
  const res = await fetch(`${h.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const text = await res.text();
  for (const [name, type] of [
    ['tillflow_orders_total', 'counter'],
    ['tillflow_payments_total', 'counter'],
    ['tillflow_sales_minor_units_total', 'counter'],
    ['tillflow_refunds_total', 'counter'],
    ['tillflow_payments_pending', 'gauge'],
    ['tillflow_kitchen_seconds', 'histogram'],
    ['tillflow_ws_connections', 'gauge'],
    ['tillflow_http_request_duration_seconds', 'histogram'],
  ]) {
    expect(text).toContain(`# TYPE ${name} ${type}\n`);
  }
  const samples = parse(text);
  for (const method of ['cash', 'card', 'qr', 'mpesa', 'airtel'])
    expect(samples.get(`tillflow_payments_pending{method="${method}"}`)).toBe(0);
});

it('counts open WebSocket connections of this process', async () => {
  const base = (await scrape()).get('tillflow_ws_connections')!;
  const socket = await connectSocket(h.baseUrl, cashier);
  expect((await scrape()).get('tillflow_ws_connections')).toBe(base + 1);
  await socket.close();
  await until(
    async () => (await scrape()).get('tillflow_ws_connections'),
    (n) => n === base,
  );
});

it('refuses a scrape without the METRICS_TOKEN, or with another token, in the contract error format', async () => {
  for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: `Bearer ${cashier}` }] as Record<
    string,
    string
  >[]) {
    const res = await h.api('GET', '/metrics', { headers });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({
      code: 'UNAUTHENTICATED',
      detail: expect.any(String),
      timestamp: expect.any(String),
    });
  }
});

it('serves the Temporal SDK worker metrics on TILLFLOW_WORKER_METRICS_ADDRESS of a worker process', async () => {
  const port = await freePort();
  const worker = await startWorkerProcess(h, dataDir, { TILLFLOW_WORKER_METRICS_ADDRESS: `127.0.0.1:${port}` });
  const text = await until(
    () =>
      fetch(`http://127.0.0.1:${port}/metrics`).then(
        (r) => r.text(),
        () => '',
      ),
    (t) => /^temporal_worker_task_slots_available\{.*task_queue="[^"]+"/m.test(t),
  );
  expect(text).toMatch(new RegExp(`^temporal_\\w+\\{.*task_queue="${h.taskQueue}"`, 'm'));
  await sigkill(worker);
}, 60_000);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
