import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startHarness, type Harness } from './support/harness';
import { killTillflowProcesses, startTillflowProcess } from '../cluster/replicas';
import { startSandboxProcess, type SandboxProcess } from '../cluster/sandbox-process';
import { postPayment, setShopCurrency, until, waitForOrderClosed } from './support/payments';
import { setupPayments } from '../launcher/payments';
import { logger } from '../platform/logger';
import { freePortBlock } from '../cluster/ports';

/**
 * `npm run sandbox`: the gateway simulators in their own process, used by a worker process and an
 * API only through the documented gateway variables. The sandbox is restarted in the middle of a
 * checkout; what it knew (the first charge) is still there afterwards.
 */
let h: Harness;
let sandbox: SandboxProcess;
let worker: ChildProcess;
let dir: string;
let portBase: number;
let cashier: string;
let manager: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-sandbox-'));
  portBase = await freePortBlock(5);
  sandbox = await startSandboxProcess(path.join(dir, 'sandbox'), portBase);
  // The API in this process and the worker process get the same variables a deployment would set.
  const payments = await setupPayments(
    { ...sandbox.env, PUBLIC_BASE_URL: 'http://127.0.0.1:1' },
    { sandbox: false, logger },
  );
  h = await startHarness({ centralWorker: false, gateways: payments.gateways });
  await sandbox.setWebhookBase(h.baseUrl);
  worker = await startTillflowProcess({
    ...sandbox.env,
    PUBLIC_BASE_URL: h.baseUrl,
    TILLFLOW_ROLE: 'worker',
    DATABASE_URL: h.databaseUrl,
    TILLFLOW_TASK_QUEUE: h.taskQueue,
    TILLFLOW_DATA_DIR: path.join(dir, 'worker'),
    TILLFLOW_TOKEN_SECRET: h.deps.config.tokenSecret,
    NODE_ENV: 'test',
  });
  await setShopCurrency(h, 'USD');
  cashier = await h.login('3456');
  manager = await h.login('2345');
}, 300_000);

afterAll(async () => {
  await killTillflowProcesses();
  await h?.close();
  await sandbox?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const payCard = (orderId: string, amount: number) =>
  postPayment(h, cashier, orderId, { method: 'card', provider: 'stripe', amount, sourceId: 'pm_card_visa' });

it('a checkout paid by card before and after the sandbox restarts closes, and the charge from before the restart refunds', async () => {
  expect(worker.exitCode).toBeNull();
  const open = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Burger'], quantity: 2 }] },
  });
  expect(open.status).toBe(201);
  const total = open.body.totals.total as number;
  const half = Math.floor(total / 2);

  const first = await payCard(open.body.id, half);
  expect(first.status).toBe(201);
  expect(first.body).toMatchObject({ status: 'succeeded', sandbox: true });

  await sandbox.stop();
  sandbox = await startSandboxProcess(path.join(dir, 'sandbox'), portBase);

  const second = await payCard(open.body.id, total - half);
  expect(second.status).toBe(201);
  const closed = await waitForOrderClosed(h, cashier, open.body.id);
  expect(closed.totals).toMatchObject({ paid: total, balance: 0 });
  await until(
    () => h.deps.knex('orders').where({ id: open.body.id }).first('persisted_at'),
    (r) => !!r?.persisted_at,
  );

  // The charge made before the restart is still known to the sandbox: it refunds.
  const refund = await h.api('POST', `/api/v1/orders/${open.body.id}/refunds`, {
    token: manager,
    body: { reason: 'sandbox restart test', paymentId: first.body.id },
    headers: { 'Idempotency-Key': `refund-${open.body.id}` },
  });
  expect(refund.status).toBe(201);
  expect(refund.body).toMatchObject({ paymentId: first.body.id, amount: half, status: 'succeeded' });

  const charges = await sandbox.charges();
  const intents = charges.stripe.paymentIntents.filter((pi: any) => pi.metadata?.orderId === open.body.id);
  expect(intents.map((pi: any) => pi.id).sort()).toEqual([first.body.reference, second.body.reference].sort());
  expect(intents.every((pi: any) => pi.status === 'succeeded')).toBe(true);
  const refunded = charges.stripe.refunds.map((r: any) => r.payment_intent);
  expect(refunded).toContain(first.body.reference);
}, 180_000);
