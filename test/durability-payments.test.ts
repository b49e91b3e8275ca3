import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startHarness, Harness } from './support/harness';
import { sigkill, startWorkerProcess, stopWorkerProcesses } from './support/worker-process';
import { startDarajaSimulator, DarajaSim, DARAJA_SIM_DEFAULTS } from '../simulators/daraja';
import { createMpesaGateway } from '../activities/payments/mpesa';
import { postPayment, setShopCurrency } from './support/payments';
import { darajaWorkerEnv } from './support/mpesa-suite';

/**
 * A worker process (the real entry point, TILLFLOW_ROLE=worker, M-Pesa pointed at the Daraja
 * simulator) is SIGKILLed while an M-Pesa payment is pending, and again while its callback is
 * being processed: exactly one STK push, one successful payment, one order close.
 */
let h: Harness;
let sim: DarajaSim;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-payworker-'));
const TIMING = {
  TILLFLOW_PAYMENT_CALLBACK_WAIT_MS: '60000',
  TILLFLOW_PAYMENT_POLL_MS: '500',
  TILLFLOW_PAYMENT_POLL_MAX_MS: '1000',
  TILLFLOW_PAYMENT_EXPIRE_MS: '120000',
  TILLFLOW_PAYMENT_LATE_WINDOW_MS: '1000',
};

beforeAll(async () => {
  sim = await startDarajaSimulator();
  const mpesa = { baseUrl: sim.url, ...DARAJA_SIM_DEFAULTS, sandbox: true };
  h = await startHarness({ centralWorker: false, env: TIMING, gateways: { mpesa: createMpesaGateway(mpesa) } });
  await setShopCurrency(h, 'KES');
  await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price: 1000 });
});
afterAll(async () => {
  await stopWorkerProcesses();
  await h?.close();
  await sim?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const workerEnv = (): Record<string, string> => ({ ...TIMING, ...darajaWorkerEnv(sim) });

it('charges once and closes once when the worker dies while the payment is pending and while its callback is handled', async () => {
  const cashier = await h.login('3456');
  let worker = await startWorkerProcess(h, dataDir, workerEnv());
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Burger'], quantity: 1 }] },
  });
  const id = created.body.id;
  const phone = '254711000111';
  // No callback on time; the customer confirms later, and the callback comes 6 s after the push.
  sim.script(phone, { outcome: 'timeout', resultCode: 0, lateCallbackMs: 6000, pendingQueries: 1000 });
  const pay = await postPayment(h, cashier, id, { method: 'mpesa', amount: 1000, phone });
  expect(pay.status).toBe(202);

  // Killed while the payment is pending.
  await sigkill(worker);
  worker = await startWorkerProcess(h, dataDir, workerEnv());

  // Killed again the moment the callback lands (confirmation and settlement in flight).
  const callbacksBefore = sim.callbacks.length;
  const deadline = Date.now() + 20_000;
  while (sim.callbacks.length === callbacksBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await sigkill(worker);
  sim.script(phone, { outcome: 'success' }); // from now on the STK query reports the payment as paid
  [...sim.pushes.values()].filter((p) => p.phone === phone).forEach((p) => (p.queriesPending = 0));
  worker = await startWorkerProcess(h, dataDir, workerEnv());

  const result = await h.deps.temporal.workflow.getHandle(`order-${id}`).result();
  expect(result.status).toBe('closed');
  expect(result.payments).toEqual([expect.objectContaining({ method: 'mpesa', status: 'succeeded', amount: 1000 })]);
  expect([...sim.pushes.values()].filter((p) => p.phone === phone)).toHaveLength(1);
  expect(await h.deps.knex('payments').where({ order_id: id }).select('status')).toEqual([{ status: 'succeeded' }]);
  expect(await h.deps.knex('orders').where({ id }).whereNotNull('persisted_at').count()).toEqual([{ count: '1' }]);
  expect(sim.reversals.size).toBe(0);
  await sigkill(worker);
}, 150_000);
