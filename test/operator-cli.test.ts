import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { openBurgerOrder, setShopCurrency } from './support/payments';
import { startDarajaSimulator, DarajaSim, DARAJA_SIM_DEFAULTS } from '../simulators/daraja';
import { createMpesaGateway } from '../activities/payments/mpesa';

/** The operator CLI (bin/tillflow.ts) run as a subprocess against a live stack, as support runs it. */
const ROOT = path.resolve(__dirname, '..');
let h: Harness;
let sim: DarajaSim;
let cashier: string;
let phoneSeq = 0;

beforeAll(async () => {
  sim = await startDarajaSimulator();
  h = await startHarness({
    gateways: { mpesa: createMpesaGateway({ baseUrl: sim.url, ...DARAJA_SIM_DEFAULTS, sandbox: true }) },
  });
  await setShopCurrency(h, 'KES');
  await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price: 1000 });
  cashier = await h.login('3456');
});
afterAll(async () => {
  await h?.close();
  await sim?.close();
});

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', '@swc-node/register', path.join(ROOT, 'bin', 'tillflow.ts'), ...args],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          TILLFLOW_API_URL: h.baseUrl,
          TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
          TEMPORAL_NAMESPACE: h.deps.config.temporalNamespace,
          ...env,
        },
        timeout: 60_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** An order with an M-Pesa payment that stays pending (the phone never answers). */
async function pendingMpesa() {
  const o = await openBurgerOrder(h, cashier);
  const phone = `2547${String(30_000_000 + ++phoneSeq).slice(-8)}`;
  sim.script(phone, { outcome: 'timeout', resultCode: 1032, pendingQueries: 1_000_000 });
  const res = await h.api('POST', `/api/v1/orders/${o.id}/payments`, {
    token: cashier,
    body: { method: 'mpesa', amount: 1000, phone },
    headers: { 'Idempotency-Key': randomUUID() },
  });
  expect(res.status).toBe(202);
  return { order: o, payment: res.body };
}

async function operatorToken(name: string): Promise<{ token: string; staff: { id: string } }> {
  const res = await h.api('POST', '/api/v1/operator-tokens', { token: await h.login('1234'), body: { name } });
  expect(res.status).toBe(201);
  return res.body;
}

it('finds an order by number with a manager PIN, and ends the session it opened', async () => {
  const o = await openBurgerOrder(h, cashier);
  const run = await cli(['find-order', String(o.orderNumber), '--pin', '2345']);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toContain(o.id);
  expect(run.stdout).toContain(`#${o.orderNumber}`);
  const manager = await h.deps
    .knex('staff')
    .where({ location_id: h.shop.locationId, role: 'manager', name: 'Manager' })
    .first('id');
  const newest = await h.deps
    .knex('sessions')
    .where({ staff_id: manager.id })
    .orderBy('created_at', 'desc')
    .first('revoked_at');
  expect(newest.revoked_at).not.toBeNull();
});

it('shows why an order is stuck: its pending payment and the payment workflow Temporal is running', async () => {
  const { order, payment } = await pendingMpesa();
  const run = await cli(['why-stuck', order.id, '--pin', '2345']);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toContain(`payment ${payment.id} mpesa KES 10.00 pending`);
  expect(run.stdout).toMatch(new RegExp(`workflow order-${order.id} \\(.+\\) RUNNING`));
  expect(run.stdout).toMatch(/child payment payment-\S+ RUNNING/);
});

it('resolves a payment with an operator token, audited as the operator', async () => {
  const { order, payment } = await pendingMpesa();
  const op = await operatorToken('Support desk');
  const run = await cli(
    ['resolve-payment', order.id, payment.id, 'succeeded', '--reason', 'customer showed the M-Pesa SMS'],
    { TILLFLOW_OPERATOR_TOKEN: op.token },
  );
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toContain(`payment ${payment.id} succeeded`);
  const audit = await h.api('GET', `/api/v1/audit?action=payment.resolve&staffId=${op.staff.id}`, {
    token: await h.login('2345'),
  });
  expect(audit.body.auditLog).toEqual([expect.objectContaining({ staff: { id: op.staff.id, name: 'Support desk' } })]);
});

it('retries a print by starting a new print job for the order', async () => {
  const o = await openBurgerOrder(h, cashier);
  const run = await cli(['retry-print', o.id, '--kind', 'kitchen', '--pin', '2345']);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(new RegExp(`print job reprint-${o.id}-kitchen-\\S+ started`));
});

it("exports a day's report to a file", async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-report-')), 'day.json');
  const run = await cli(['report', '--date', '2026-01-15', '--out', file, '--pin', '2345']);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ date: '2026-01-15', orders: 0 });
});

it('refuses to run without credentials, saying how to give them', async () => {
  const run = await cli(['find-order', '1']);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('TILLFLOW_OPERATOR_TOKEN');
});
