import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { PAYMENT_TEST_TIMING, waitForOrderClosed } from './support/payments';
import { startDarajaSimulator, DarajaSim, DARAJA_SIM_DEFAULTS } from '../simulators/daraja';
import { createMpesaGateway } from '../activities/payments/mpesa';
import { NAIROBI_STAFF, seedNairobiDemo } from '../db/seed';

/** The Nairobi demo location (seeded beside the café by `npm start`): KES, its own PINs, M-Pesa works out of the box. */
let h: Harness;
let sim: DarajaSim;
let nairobi: Awaited<ReturnType<typeof seedNairobiDemo>>;

beforeAll(async () => {
  sim = await startDarajaSimulator();
  h = await startHarness({
    env: PAYMENT_TEST_TIMING,
    gateways: { mpesa: createMpesaGateway({ baseUrl: sim.url, ...DARAJA_SIM_DEFAULTS, sandbox: true }) },
  });
  nairobi = await seedNairobiDemo(h.deps.knex, h.deps.config.tokenSecret);
});
afterAll(async () => {
  await h?.close();
  await sim?.close();
});

it('logs the Nairobi cashier in at the Nairobi location by PIN alone, and an M-Pesa payment there closes the order', async () => {
  const login = await h.api('POST', '/api/v1/auth/login', {
    body: { pin: NAIROBI_STAFF.find((s) => s.role === 'cashier')!.pin },
  });
  expect(login.status).toBe(200);
  expect(login.body.staff.locationId).toBe(nairobi.locationId);
  const token = login.body.token;
  const o = await h.api('POST', '/api/v1/orders', {
    token,
    body: { type: 'takeaway', lines: [{ itemId: nairobi.items['Chai'], quantity: 2 }] },
  });
  expect(o.body).toMatchObject({ currency: 'KES', totals: { balance: 10000 } });
  const phone = '254799000111';
  sim.script(phone, { outcome: 'success' });
  const pay = await h.api('POST', `/api/v1/orders/${o.body.id}/payments`, {
    token,
    body: { method: 'mpesa', amount: 10000, phone },
    headers: { 'Idempotency-Key': randomUUID() },
  });
  expect(pay.status).toBe(202);
  const closed = await waitForOrderClosed(h, token, o.body.id);
  expect(closed.payments[0]).toMatchObject({ method: 'mpesa', status: 'succeeded', amount: 10000 });
});
