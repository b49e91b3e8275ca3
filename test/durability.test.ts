import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startHarness, Harness } from './support/harness';
import { sigkill, startWorkerProcess, stopWorkerProcesses } from './support/worker-process';
import { startFakePrinter } from './support/fake-printer';
import { postPayment } from './support/payments';

/**
 * The worker is a separate process (the real entry point, TILLFLOW_ROLE=worker) that we SIGKILL
 * in the middle of a checkout: between updates, and again during close. A new worker finishes
 * the order exactly once.
 */
let h: Harness;
let printer: Awaited<ReturnType<typeof startFakePrinter>>;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-worker-'));

beforeAll(async () => {
  h = await startHarness({ centralWorker: false });
  printer = await startFakePrinter();
  await h.deps
    .knex('printers')
    .insert({ location_id: h.shop.locationId, name: 'Front', role: 'receipt', address: printer.address });
  await h.deps
    .knex('locations')
    .where({ id: h.shop.locationId })
    .update({ auto_print_receipt: true, auto_print_kitchen: false });
});
afterAll(async () => {
  await stopWorkerProcesses();
  await printer?.close();
  await h?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it('completes an order exactly once when its worker is SIGKILLed between updates and during close', async () => {
  const cashier = await h.login('3456');
  const { items } = h.shop;
  const stockBefore = (await h.deps.knex('items').where({ id: items['Croissant'] }).first()).stock_quantity;

  let worker = await startWorkerProcess(h, dataDir);
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: items['Croissant'], quantity: 2 }] },
  });
  expect(created.status).toBe(201);
  const id = created.body.id;

  // Killed between updates: the next update waits for a worker and is applied once.
  await sigkill(worker);
  const pendingAdd = h.api('POST', `/api/v1/orders/${id}/lines`, {
    token: cashier,
    body: { itemId: items['Burger'], quantity: 1 },
    headers: { 'idempotency-key': 'add-burger' },
  });
  worker = await startWorkerProcess(h, dataDir);
  const added = await pendingAdd;
  expect(added.status).toBe(200);
  expect(added.body.lines.map((l: any) => l.name)).toEqual(['Croissant', 'Burger']);

  // Killed during close: the payment closed the order; persisting, stock and receipt were in flight.
  const total = added.body.totals.total;
  const paid = await postPayment(h, cashier, id, { method: 'cash', amount: total, tendered: total });
  expect(paid.body.order.status).toBe('closed');
  await sigkill(worker);
  worker = await startWorkerProcess(h, dataDir);

  const result = await h.deps.temporal.workflow.getHandle(`order-${id}`).result();
  expect(result.status).toBe('closed');
  await printer.waitForJobs(1, 30_000);

  expect(await h.deps.knex('orders').where({ id }).whereNotNull('persisted_at').count()).toEqual([{ count: '1' }]);
  expect(await h.deps.knex('order_lines').where({ order_id: id }).count()).toEqual([{ count: '2' }]);
  expect(await h.deps.knex('payments').where({ order_id: id }).count()).toEqual([{ count: '1' }]);
  expect(await h.deps.knex('inventory_movements').where({ order_id: id }).select('delta', 'reason')).toEqual([
    { delta: -2, reason: 'sale' },
  ]);
  expect((await h.deps.knex('items').where({ id: items['Croissant'] }).first()).stock_quantity).toBe(stockBefore - 2);
  await new Promise((r) => setTimeout(r, 1000));
  expect(printer.jobs).toHaveLength(1);
  expect(printer.text(0)).toContain(`#${created.body.orderNumber}`);
  await sigkill(worker);
}, 120_000);
