import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { sigkill, startWorkerProcess, stopWorkerProcesses } from './support/worker-process';
import { startDarajaSimulator, DarajaSim, DARAJA_SIM_DEFAULTS } from '../simulators/daraja';
import { createMpesaGateway } from '../activities/payments/mpesa';
import { postPayment, setShopCurrency, until } from './support/payments';
import { DARAJA_SIM_INITIATOR, darajaWorkerEnv } from './support/mpesa-suite';

/**
 * A worker process (the real entry point, TILLFLOW_ROLE=worker, M-Pesa pointed at the Daraja
 * simulator) is SIGKILLed while an M-Pesa refund with restock is pending at the gateway, and again
 * the moment the result that settles it lands: exactly one reversal, one refund row, one restock.
 */
let h: Harness;
let sim: DarajaSim;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-refundworker-'));
const TIMING = {
  TILLFLOW_PAYMENT_CALLBACK_WAIT_MS: '1000',
  TILLFLOW_PAYMENT_POLL_MS: '500',
  TILLFLOW_PAYMENT_POLL_MAX_MS: '1000',
  TILLFLOW_PAYMENT_EXPIRE_MS: '120000',
  TILLFLOW_PAYMENT_LATE_WINDOW_MS: '1000',
};

beforeAll(async () => {
  sim = await startDarajaSimulator();
  const mpesa = { baseUrl: sim.url, ...DARAJA_SIM_DEFAULTS, ...DARAJA_SIM_INITIATOR, sandbox: true };
  h = await startHarness({ centralWorker: false, env: TIMING, gateways: { mpesa: createMpesaGateway(mpesa) } });
  await setShopCurrency(h, 'KES');
  await h.deps
    .knex('items')
    .where({ id: h.shop.items['Burger'] })
    .update({ price: 1000, track_stock: true, stock_quantity: 50 });
});
afterAll(async () => {
  await stopWorkerProcesses();
  await h?.close();
  await sim?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const workerEnv = (): Record<string, string> => ({ ...TIMING, ...darajaWorkerEnv(sim, DARAJA_SIM_INITIATOR) });

const stock = async () =>
  (await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).first('stock_quantity')).stock_quantity as number;

it('reverses once, records once and restocks once when the worker dies while the refund is pending and while its result is handled', async () => {
  const cashier = await h.login('3456');
  const manager = await h.login('2345');
  let worker = await startWorkerProcess(h, dataDir, workerEnv());
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Burger'], quantity: 2 }] },
  });
  const id = created.body.id;
  expect((await postPayment(h, cashier, id, { method: 'mpesa', amount: 2000, phone: '254711000222' })).status).toBe(
    202,
  );
  await h.deps.temporal.workflow.getHandle(`order-${id}`).result();
  const before = await stock();

  // The reversal's result and every status result are lost: the refund stays pending at the gateway.
  sim.scriptReversals({ loseResult: true, loseStatusResults: true });
  const res = await h.api('POST', `/api/v1/orders/${id}/refunds`, {
    token: manager,
    body: { reason: 'returned', lines: [{ lineId: created.body.lines[0].id, quantity: 1 }], restock: true },
    headers: { 'idempotency-key': randomUUID() },
  });
  expect(res.status).toBe(202);
  await until(
    () => Promise.resolve(sim.statusQueries.length),
    (n) => n > 0,
    30_000,
  );

  // Killed while the refund is pending at the gateway.
  await sigkill(worker);
  worker = await startWorkerProcess(h, dataDir, workerEnv());

  // Killed again the moment a Transaction Status result lands (settling, restocking in flight).
  const { result_token } = await h.deps.knex('refunds').where({ id: res.body.id }).first('result_token');
  const resultUrl = `/webhooks/mpesa-result/${result_token}`;
  sim.scriptReversals({ loseResult: true });
  await until(
    () => Promise.resolve(sim.callbacks.filter((c) => c.url.endsWith(resultUrl)).length),
    (n) => n > 0,
    30_000,
  );
  await sigkill(worker);
  worker = await startWorkerProcess(h, dataDir, workerEnv());

  await h.deps.temporal.workflow.getHandle(`refund-${res.body.id}`).result();
  expect(await h.deps.knex('refunds').where({ order_id: id }).select('status', 'amount')).toEqual([
    { status: 'succeeded', amount: 1000 },
  ]);
  expect([...sim.reversals.values()].map((r) => r.requests)).toEqual([1]);
  const moves = await h.deps.knex('inventory_movements').where({ order_id: id, reason: 'refund' }).select('delta');
  expect(moves).toEqual([{ delta: 1 }]);
  expect(await stock()).toBe(before + 1);
  await sigkill(worker);
}, 150_000);
