import { startHarness, Harness } from './support/harness';
import { openBurgerOrder, postPayment } from './support/payments';
import { startDarajaSimulator, DarajaSim, DARAJA_SIM_DEFAULTS } from '../simulators/daraja';
import { createMpesaGateway } from '../activities/payments/mpesa';

/** A method the location's currency cannot use is refused at request time (422), before any payment exists. */
let h: Harness;
let sim: DarajaSim;
let cashier: string;

beforeAll(async () => {
  sim = await startDarajaSimulator();
  h = await startHarness({
    gateways: { mpesa: createMpesaGateway({ baseUrl: sim.url, ...DARAJA_SIM_DEFAULTS, sandbox: true }) },
  });
  cashier = await h.login('3456');
});
afterAll(async () => {
  await h?.close();
  await sim?.close();
});

it('refuses M-Pesa in a USD shop with 422 naming the method, and starts no payment', async () => {
  const o = await openBurgerOrder(h, cashier);
  const res = await postPayment(h, cashier, o.id, { method: 'mpesa', amount: o.totals.balance, phone: '254712345678' });
  expect(res.status).toBe(422);
  expect(res.body.errors).toEqual([
    expect.objectContaining({ path: 'method', message: expect.stringContaining('KES') }),
  ]);
  const order = await h.api('GET', `/api/v1/orders/${o.id}`, { token: cashier });
  expect(order.body.payments).toEqual([]);
  expect(sim.pushes.size).toBe(0);
});
