import { startHarness, Harness } from './support/harness';
import { openBurgerOrder, setShopCurrency, until, postPayment } from './support/payments';
import { startDarajaSimulator, DarajaSim, DARAJA_SIM_DEFAULTS } from '../simulators/daraja';
import { createMpesaGateway } from '../activities/payments/mpesa';

/**
 * GET /api/v1/support/stuck-orders against real Temporal visibility and Postgres. Failures are
 * made real with database triggers that refuse one order's writes, so the activities that write
 * them keep retrying exactly as they would against a broken database.
 */
let h: Harness;
let sim: DarajaSim;
let cashier: string;
let manager: string;
let phoneSeq = 0;
const UI = 'http://temporal-ui.test:8233';

beforeAll(async () => {
  sim = await startDarajaSimulator();
  const gateway = createMpesaGateway({
    baseUrl: sim.url,
    ...DARAJA_SIM_DEFAULTS,
    sandbox: true,
    initiatorName: 'testapi',
    initiatorPassword: 'x',
    resultUrl: 'http://127.0.0.1:9/unused',
  });
  h = await startHarness({
    // The payment waits for its callback and polls for much longer than the test runs.
    env: {
      TEMPORAL_UI_URL: UI,
      TILLFLOW_PAYMENT_CALLBACK_WAIT_MS: '600000',
      TILLFLOW_PAYMENT_EXPIRE_MS: '1200000',
      TILLFLOW_PRINT_MAX_ATTEMPTS: '1000',
    },
    gateways: { mpesa: gateway },
  });
  await setShopCurrency(h, 'KES');
  await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price: 1000 }); // M-Pesa takes whole shillings
  cashier = await h.login('3456');
  manager = await h.login('2345');
});
afterAll(async () => {
  await h?.close();
  await sim?.close();
});

const stuck = (query = 'olderThan=1s') => h.api('GET', `/api/v1/support/stuck-orders?${query}`, { token: manager });
const stuckFor = (orderId: string, reason: string, query?: string) =>
  until(
    () => stuck(query),
    (r) => r.status === 200 && r.body.stuckOrders.some((s: any) => s.orderId === orderId && s.reason === reason),
    30_000,
  ).then((r) => r.body.stuckOrders.find((s: any) => s.orderId === orderId && s.reason === reason));

/** Makes every write of `table` rows for this order fail (the activity writing them retries). */
async function refuseWrites(name: string, table: string, condition: string): Promise<() => Promise<void>> {
  await h.deps.knex.raw(
    `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'database refuses ${name}'; END $$`,
  );
  await h.deps.knex.raw(
    `CREATE TRIGGER ${name} BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW WHEN (${condition}) EXECUTE FUNCTION ${name}()`,
  );
  return async () => {
    await h.deps.knex.raw(`DROP TRIGGER ${name} ON ${table}`);
    await h.deps.knex.raw(`DROP FUNCTION ${name}()`);
  };
}

const link = (workflowId: string, runId: string) =>
  `${UI}/namespaces/tillflow/workflows/${workflowId}/${runId}/history`;

describe('stuck orders', () => {
  it('lists a gateway payment pending longer than olderThan, with its current details and a Temporal UI link', async () => {
    const o = await openBurgerOrder(h, cashier);
    const phone = `2547${String(10_000_000 + ++phoneSeq).slice(-8)}`;
    sim.script(phone, { outcome: 'timeout', pendingQueries: 100_000 });
    const pay = await postPayment(h, cashier, o.id, { method: 'mpesa', amount: o.totals.balance, phone });
    expect(pay.status).toBe(202);

    const entry = await stuckFor(o.id, 'payment_pending');
    expect(entry).toMatchObject({
      orderNumber: o.orderNumber,
      paymentId: pay.body.id,
      workflowId: `payment-${o.id}-1`,
      workflowType: 'payment',
    });
    expect(entry.currentDetails).toMatch(/^waiting for M-Pesa (callback|status) since \d\d:\d\d:\d\d UTC/);
    expect(entry.temporalUiUrl).toBe(link(entry.workflowId, entry.runId));
    expect(Date.parse(entry.since)).toBeLessThanOrEqual(Date.parse(pay.body.createdAt) + 1000);
  });

  it('leaves out payments pending for less than olderThan', async () => {
    const o = await openBurgerOrder(h, cashier);
    const phone = `2547${String(10_000_000 + ++phoneSeq).slice(-8)}`;
    sim.script(phone, { outcome: 'timeout', pendingQueries: 100_000 });
    await postPayment(h, cashier, o.id, { method: 'mpesa', amount: o.totals.balance, phone });
    await stuckFor(o.id, 'payment_pending');
    const recent = await stuck('olderThan=1h');
    expect(recent.body.stuckOrders.filter((s: any) => s.orderId === o.id)).toEqual([]);
  });

  it('lists a close that has not reached the database, and the persisting activity that keeps failing', async () => {
    const o = await openBurgerOrder(h, cashier);
    const allow = await refuseWrites('refuse_persist', 'orders', `NEW.id = '${o.id}' AND NEW.persisted_at IS NOT NULL`);
    try {
      const pay = await postPayment(h, cashier, o.id, {
        method: 'cash',
        amount: o.totals.balance,
        tendered: o.totals.balance,
      });
      expect(pay.status).toBe(201);
      const entry = await stuckFor(o.id, 'close_not_persisted');
      expect(entry).toMatchObject({
        workflowId: `order-${o.id}`,
        workflowType: 'checkout',
        orderNumber: o.orderNumber,
      });
      expect(entry.currentDetails).toMatch(new RegExp(`^Order #${o.orderNumber} closed`));
      expect(entry.temporalUiUrl).toBe(link(entry.workflowId, entry.runId));
      const retrying = await stuckFor(o.id, 'activity_retrying', 'olderThan=1s&minAttempts=3');
      expect(retrying.activity).toMatchObject({ type: 'persistOrder' });
      expect(retrying.activity.attempt).toBeGreaterThanOrEqual(3);
      expect(retrying.activity.lastFailure).toContain('database refuses refuse_persist');
    } finally {
      await allow();
    }
    // Once the database takes the close again, the order drops off the list.
    await until(
      () => stuck(),
      (r) => r.status === 200 && !r.body.stuckOrders.some((s: any) => s.orderId === o.id),
      30_000,
    );
    expect((await h.deps.knex('orders').where({ id: o.id }).first('persisted_at')).persisted_at).not.toBeNull();
  });

  it('lists publishing that keeps failing, with the last failure', async () => {
    const o = await openBurgerOrder(h, cashier);
    const allow = await refuseWrites('refuse_events', 'order_events', `NEW.order_id = '${o.id}'`);
    try {
      const line = await h.api('POST', `/api/v1/orders/${o.id}/lines`, {
        token: cashier,
        body: { itemId: h.shop.items['Burger'], quantity: 1 },
      });
      expect(line.status).toBe(200);
      const entry = await stuckFor(o.id, 'activity_retrying', 'minAttempts=3');
      expect(entry).toMatchObject({ workflowId: `order-${o.id}`, activity: { type: 'publishOrderEvents' } });
      expect(entry.activity.lastFailure).toContain('database refuses refuse_events');
      expect(entry.currentDetails).toMatch(new RegExp(`^Order #${o.orderNumber} open`));
    } finally {
      await allow();
    }
  });

  it('lists a print job still retrying an unreachable printer', async () => {
    const printer = await h.api('POST', '/api/v1/printers', {
      token: manager,
      body: { name: 'Dead receipt printer', role: 'receipt', address: 'tcp://127.0.0.1:1' },
    });
    expect(printer.status).toBe(201);
    try {
      const o = await openBurgerOrder(h, cashier);
      const job = await h.api('POST', `/api/v1/orders/${o.id}/reprint`, { token: cashier, body: { kind: 'receipt' } });
      expect(job.status).toBe(202);
      const entry = await stuckFor(o.id, 'printing_retrying');
      expect(entry).toMatchObject({ workflowId: job.body.workflowId, workflowType: 'printTicket' });
      expect(entry.currentDetails).toMatch(/^printer Dead receipt printer \(tcp:\/\/127\.0\.0\.1:1\) failed \d+x/);
      await h.deps.temporal.workflow.getHandle(job.body.workflowId).terminate('test done');
    } finally {
      await h.api('DELETE', `/api/v1/printers/${printer.body.id}`, { token: manager });
    }
  });
});

describe('access and input', () => {
  it('is for managers only', async () => {
    expect((await h.api('GET', '/api/v1/support/stuck-orders', { token: cashier })).status).toBe(403);
    expect((await h.api('GET', '/api/v1/support/stuck-orders')).status).toBe(401);
  });

  it('is documented in /openapi.json', async () => {
    const spec = await h.api('GET', '/openapi.json');
    for (const path of ['/api/v1/support/stuck-orders', '/api/v1/audit', '/api/v1/payments']) {
      expect(spec.body.paths[path].get.tags).toEqual([path === '/api/v1/payments' ? 'Payments' : 'Support']);
    }
    const query = spec.body.paths['/api/v1/support/stuck-orders'].get.parameters.filter((p: any) => p.in === 'query');
    expect(query.map((p: any) => p.name)).toEqual(['olderThan', 'minAttempts']);
  });

  it('defaults olderThan to 10 minutes', async () => {
    const res = await h.api('GET', '/api/v1/support/stuck-orders', { token: manager });
    expect(res.status).toBe(200);
    expect(res.body.stuckOrders).toEqual(expect.any(Array));
  });

  it.each([
    'olderThan=10',
    'olderThan=-1m',
    'olderThan=10y',
    'olderThan=1m&olderThan=2m',
    'minAttempts=1',
    'minAttempts=x',
    'minAttempts=3&minAttempts=4',
    'other=1',
  ])('answers 422 to %s', async (q) => {
    const res = await stuck(q);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('VALIDATION_ERROR');
  });
});
