import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startHarness, Harness } from './support/harness';
import { sigkill, startWorkerProcess, stopWorkerProcesses } from './support/worker-process';

/**
 * The worker (a separate process) is SIGKILLed while a split is in flight, at a few different
 * moments. Whatever the moment, a new worker finishes it and the split happened once and whole:
 * every quantity is on exactly one of the two orders.
 */
let h: Harness;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-split-'));

beforeAll(async () => {
  h = await startHarness({ centralWorker: false });
});
afterAll(async () => {
  await stopWorkerProcesses();
  await h?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const quantities = (...orders: any[]) => {
  const q: Record<string, number> = {};
  for (const o of orders) for (const l of o.lines) q[l.name] = (q[l.name] ?? 0) + l.quantity;
  return q;
};

it.each([0, 100])(
  'splits once and whole when the worker is SIGKILLed %i ms into the split',
  async (delayMs) => {
    const cashier = await h.login('3456');
    let worker = await startWorkerProcess(h, dataDir);
    const created = await h.api('POST', '/api/v1/orders', {
      token: cashier,
      body: {
        type: 'dine_in',
        lines: [
          { itemId: h.shop.items['Burger'], quantity: 3 },
          { itemId: h.shop.items['Croissant'], quantity: 2 },
        ],
      },
    });
    expect(created.status).toBe(201);
    const order = created.body;
    const key = `split-${delayMs}`;
    const request = () =>
      h.api('POST', `/api/v1/orders/${order.id}/split`, {
        token: cashier,
        body: {
          lines: [
            { lineId: order.lines[0].id, quantity: 1 },
            { lineId: order.lines[1].id, quantity: 2 },
          ],
        },
        headers: { 'idempotency-key': key },
      });

    const inFlight = request();
    await new Promise((r) => setTimeout(r, delayMs));
    await sigkill(worker);
    worker = await startWorkerProcess(h, dataDir);
    let res = await inFlight;
    if (res.status !== 201) res = await request(); // the outcome was unknown: the same key asks again
    expect(res.status).toBe(201);

    const original = (await h.api('GET', `/api/v1/orders/${order.id}`, { token: cashier })).body;
    const split = (await h.api('GET', `/api/v1/orders/${res.body.order.id}`, { token: cashier })).body;
    expect(quantities(original)).toEqual({ Burger: 2 });
    expect(quantities(split)).toEqual({ Burger: 1, Croissant: 2 });
    expect(quantities(original, split)).toEqual(quantities(order));
    // One new order only: a retry after the kill started no second one.
    const children = await h.deps.temporal.workflow.list({ query: `ParentWorkflowId = 'order-${order.id}'` });
    const ids: string[] = [];
    for await (const wf of children) ids.push(wf.workflowId);
    expect(ids).toEqual([`order-${res.body.order.id}`]);
    await sigkill(worker);
  },
  120_000,
);
