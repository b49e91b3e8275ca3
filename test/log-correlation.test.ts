import { Writable } from 'node:stream';
import { startHarness, Harness } from './support/harness';
import { closedSale } from './support/sales';
import { createLogger } from '../platform/logger';

// One grep of an order id follows it across the API and the worker: every request line carries
// the request id (and the order and workflow ids where there are), and every activity line the
// workflow id and order id of the workflow that ran it.

let h: Harness;
const lines: any[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
    done();
  },
});

beforeAll(async () => {
  h = await startHarness({ logger: createLogger({ destination: sink, level: 'info' }) });
});
afterAll(() => h?.close());

const requestLines = () => lines.filter((l) => l.msg === 'request');
const activityLines = () => lines.filter((l) => l.msg === 'activity completed');

it('puts the order id and its workflow id on the API request lines and on the activity lines of a checkout', async () => {
  const cashier = await h.login('3456');
  const order = await closedSale(h, cashier, [{ item: 'Croissant', quantity: 1 }]);
  const workflowId = `order-${order.id}`;

  const apiLines = requestLines().filter((l) => l.orderId === order.id);
  expect(apiLines.map((l) => `${l.method} ${l.route}`)).toEqual(
    expect.arrayContaining(['POST /api/v1/orders', 'POST /api/v1/orders/:id/payments']),
  );
  expect(apiLines.filter((l) => l.workflowId !== workflowId || typeof l.requestId !== 'string')).toEqual([]);

  const workerLines = activityLines().filter((l) => l.orderId === order.id);
  // The checkout's own activities (closing it) run under the same workflow id as its requests…
  expect(workerLines.filter((l) => l.workflowId === workflowId).length).toBeGreaterThan(0);
  // …and its child workflows' (printing) under theirs, each still naming the order.
  expect(workerLines.filter((l) => !l.workflowId.includes(order.id) || typeof l.activity !== 'string')).toEqual([]);
});

it('echoes a well-formed X-Request-Id and logs the request under it', async () => {
  const res = await h.api('GET', '/health', { headers: { 'x-request-id': 'till-7-req-0042' } });
  expect(res.headers.get('x-request-id')).toBe('till-7-req-0042');
  expect(requestLines().filter((l) => l.requestId === 'till-7-req-0042')).toMatchObject([
    { method: 'GET', path: '/health', status: res.status },
  ]);
});

it('replaces a malformed X-Request-Id with its own, so a client cannot forge log lines', async () => {
  const res = await h.api('GET', '/health', { headers: { 'x-request-id': 'x"} {"level":60 '.repeat(20) } });
  const id = res.headers.get('x-request-id');
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  expect(requestLines().filter((l) => l.requestId === id)).toHaveLength(1);
});

it('gives each request without an X-Request-Id an id of its own', async () => {
  const [a, b] = await Promise.all([h.api('GET', '/health'), h.api('GET', '/health')]);
  expect(a.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
});
