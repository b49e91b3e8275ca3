import type { Harness } from './support/harness';
import { DARAJA_SIM_INITIATOR, startMpesaShop } from './support/mpesa-suite';
import { openBurgerOrder, until, postPayment } from './support/payments';
import type { DarajaSim } from '../simulators/daraja';

/**
 * Support staff find orders in Temporal by search attribute (README, "How an order works"): the
 * queries they type must find the order, and its current-details line must say what it waits for.
 */
let h: Harness;
let sim: DarajaSim;
let cashier: string;

beforeAll(async () => {
  ({ h, sim } = await startMpesaShop(
    { TILLFLOW_PAYMENT_CALLBACK_WAIT_MS: '600000', TILLFLOW_PAYMENT_EXPIRE_MS: '1200000' },
    { ...DARAJA_SIM_INITIATOR, initiatorPassword: 'x' },
  ));
  // The next order is number 42 (numbers run 1..99 per location).
  await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ order_number_counter: 41 });
  cashier = await h.login('3456');
});
afterAll(async () => {
  await h?.close();
  await sim?.close();
});

async function workflowIdsFor(query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of h.deps.temporal.workflow.list({ query })) ids.push(wf.workflowId);
  return ids;
}
const found = (query: string, workflowId: string) =>
  until(
    () => workflowIdsFor(query),
    (ids) => ids.includes(workflowId),
  );

describe('search attributes', () => {
  let order: any;
  beforeAll(async () => {
    order = await openBurgerOrder(h, cashier);
    const phone = '254712340042';
    sim.script(phone, { outcome: 'timeout', pendingQueries: 100_000 });
    const pay = await postPayment(h, cashier, order.id, { method: 'mpesa', amount: 1000, phone });
    expect(pay.status).toBe(202);
  });

  it("find the order with OrderNumber = 42 AND LocationId = '…'", async () => {
    expect(order.orderNumber).toBe(42);
    const ids = await found(`OrderNumber = 42 AND LocationId = '${h.shop.locationId}'`, `order-${order.id}`);
    expect(ids.filter((id) => id.startsWith('order-'))).toEqual([`order-${order.id}`]);
  });

  it("find the order and its payment with PaymentStatus = 'pending'", async () => {
    const query = `PaymentStatus = 'pending' AND LocationId = '${h.shop.locationId}'`;
    const ids = await until(
      () => workflowIdsFor(query),
      (all) => all.includes(`order-${order.id}`) && all.includes(`payment-${order.id}-1`),
    );
    expect(ids).toEqual(expect.arrayContaining([`order-${order.id}`, `payment-${order.id}-1`]));
  });

  it('find it among open orders paid by M-Pesa (OrderStatus, PaymentMethod)', async () => {
    await found(
      `OrderStatus = 'open' AND PaymentMethod = 'mpesa' AND LocationId = '${h.shop.locationId}'`,
      `order-${order.id}`,
    );
  });

  it('show a current-details line saying what the order waits for', async () => {
    const meta = (await h.deps.temporal.workflow
      .getHandle(`order-${order.id}`)
      .query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(meta.currentDetails).toMatch(
      /^Order #42 open · 1 line\(s\) · total KES 10\.00 · balance KES 10\.00 · kitchen \w+ · waiting for mpesa payment since /,
    );
    const payment = (await h.deps.temporal.workflow
      .getHandle(`payment-${order.id}-1`)
      .query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(payment.currentDetails).toMatch(
      /^waiting for M-Pesa (callback|status) since \d\d:\d\d:\d\d UTC · KES 10\.00$/,
    );
  });
});
