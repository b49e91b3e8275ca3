import * as path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { startHarness, Harness } from './support/harness';
import { fetchOrder, setShopCurrency, until, waitForOrderClosed } from './support/payments';
import { createCentralWorker } from '../workers/worker';
import { workflowIds } from '../core/events';
import { logger } from '../platform/logger';
import { FROZEN_BUNDLES_DIR } from './fixtures/freeze-workflow-bundle';

/**
 * A deploy in the middle of service: orders and payments start on a frozen bundle of the
 * workflow code as it was on 2026-12-01 (test/fixtures/workflow-bundles/, made by
 * freeze-workflow-bundle.ts), that worker stops the way a deploy stops it (SIGTERM: graceful
 * shutdown), and a worker with the CURRENT workflows/ code takes over the same task queue.
 * The API stays up throughout. Every order closes exactly once, persisted once, its stock
 * deducted once and each payment settled once, at the gateway and in Postgres.
 */
const FROZEN_BUNDLE = path.join(FROZEN_BUNDLES_DIR, '2026-12-01.js');
const OLD_IDENTITY = 'frozen-2026-12-01@upgrade-test';
const NEW_IDENTITY = 'current-code@upgrade-test';
// Long enough that the payments are still pending when the worker is swapped; polls keep going.
const TIMING = {
  TILLFLOW_PAYMENT_CALLBACK_WAIT_MS: '400',
  TILLFLOW_PAYMENT_POLL_MS: '200',
  TILLFLOW_PAYMENT_POLL_MAX_MS: '500',
  TILLFLOW_PAYMENT_EXPIRE_MS: '120000',
  TILLFLOW_PAYMENT_LATE_WINDOW_MS: '1000',
};
const PRICE = 1000; // KES 10.00: M-Pesa takes whole shillings
const PHONE = '254711222333';

let h: Harness;
let connection: NativeConnection;
let cashier: string;

beforeAll(async () => {
  h = await startHarness({ centralWorker: false, sandboxPayments: true, env: TIMING });
  await setShopCurrency(h, 'KES');
  await h.deps.knex('items').where({ id: h.shop.items['Croissant'] }).update({ price: PRICE });
  connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  cashier = await h.login('3456');
}, 120_000);
afterAll(async () => {
  await connection?.close();
  await h?.close();
});

/** A central worker on the harness's task queue running `bundlePath`, already polling. */
async function startWorker(bundlePath: string, identity: string): Promise<{ worker: Worker; running: Promise<void> }> {
  const worker = await createCentralWorker({
    connection,
    namespace: h.deps.config.temporalNamespace,
    taskQueue: h.taskQueue,
    deps: { knex: h.deps.knex, logger, gateways: h.deps.gateways },
    workflowBundlePath: bundlePath,
    tuning: { identity },
  });
  return { worker, running: worker.run() };
}

async function openCroissantOrder(quantity: number): Promise<any> {
  const res = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Croissant'], quantity }] },
  });
  expect(res.status).toBe(201);
  return res.body;
}

async function pay(orderId: string, body: Record<string, unknown>): Promise<any> {
  const res = await h.api('POST', `/api/v1/orders/${orderId}/payments`, {
    token: cashier,
    body,
    headers: { 'idempotency-key': `pay-${orderId}` },
  });
  expect([201, 202]).toContain(res.status);
  return res.body;
}

/** The identities of the workers that completed the order's workflow tasks. */
async function workflowTaskWorkers(workflowId: string): Promise<Set<string>> {
  const history = await h.deps.temporal.workflow.getHandle(workflowId).fetchHistory();
  return new Set(
    history.events!.map((e) => e.workflowTaskCompletedEventAttributes?.identity).filter((i): i is string => !!i),
  );
}

it('finishes orders and pending payments started on the old workflow code after the current code is deployed over them', async () => {
  const { simulators } = h;
  const daraja = simulators.daraja!;
  const stripe = simulators.stripe!;
  const croissant = h.shop.items['Croissant'];
  const stockBefore = (await h.deps.knex('items').where({ id: croissant }).first()).stock_quantity;

  // --- Service on the old code: an open cart, a pending M-Pesa push, a QR code on the display,
  // and a paid order the kitchen is still cooking (closed and persisted, waiting for the bump).
  const old = await startWorker(FROZEN_BUNDLE, OLD_IDENTITY);
  const cart = await openCroissantOrder(1);
  const mpesaOrder = await openCroissantOrder(1);
  const qrOrder = await openCroissantOrder(2);
  daraja.script(PHONE, { outcome: 'timeout', resultCode: 0, pendingQueries: 1_000_000 }); // no answer yet
  stripe.script(2 * PRICE, { outcome: 'abandon' }); // the customer has not scanned yet
  const mpesa = await pay(mpesaOrder.id, { method: 'mpesa', amount: PRICE, phone: PHONE });
  const qr = await pay(qrOrder.id, { method: 'qr', amount: 2 * PRICE });
  expect([mpesa.status, qr.status]).toEqual(['pending', 'pending']);
  // The payment workflows are polling the gateway on the old code when the deploy comes.
  await until(
    async () => daraja.requests.filter((r) => r.path.includes('stkpushquery')).length,
    (n) => n >= 2,
  );
  const cooking = await openCroissantOrder(1);
  expect((await h.api('POST', `/api/v1/orders/${cooking.id}/submit`, { token: cashier })).status).toBe(200);
  expect((await pay(cooking.id, { method: 'cash', amount: PRICE, tendered: PRICE })).order.status).toBe('closed');
  await until(
    () => h.deps.knex('orders').where({ id: cooking.id }).first('persisted_at'),
    (r) => !!r?.persisted_at,
  );

  // --- The deploy: the old worker stops (SIGTERM) while the API keeps serving.
  old.worker.shutdown();
  await old.running;
  // A cashier adds to the open cart during the swap; the Update waits for the new worker.
  const addDuringSwap = h.api('POST', `/api/v1/orders/${cart.id}/lines`, {
    token: cashier,
    body: { itemId: croissant, quantity: 1 },
    headers: { 'idempotency-key': `add-${cart.id}` },
  });
  const current = await startWorker(process.env.TILLFLOW_TEST_WORKFLOW_BUNDLE!, NEW_IDENTITY);
  try {
    const added = await addDuringSwap;
    expect(added.status).toBe(200);
    expect(added.body.lines.map((l: any) => l.quantity)).toEqual([1, 1]);

    // --- The current code finishes everything: cash for the cart, the customers answer.
    const cash = await pay(cart.id, { method: 'cash', amount: 2 * PRICE, tendered: 2 * PRICE });
    expect(cash.order.status).toBe('closed');
    for (const push of [...daraja.pushes.values()].filter((p) => p.phone === PHONE)) push.queriesPending = 0;
    await stripe.completeCheckout(qr.reference, 'success');
    expect((await h.api('POST', `/api/v1/orders/${cooking.id}/ready`, { token: cashier })).status).toBe(200);
    const orders = [cart, mpesaOrder, qrOrder, cooking];
    const closed = await Promise.all(orders.map((o) => waitForOrderClosed(h, cashier, o.id)));
    expect(closed.map((o) => o.payments.map((p: any) => [p.method, p.status]))).toEqual([
      [['cash', 'succeeded']],
      [['mpesa', 'succeeded']],
      [['qr', 'succeeded']],
      [['cash', 'succeeded']],
    ]);

    // Each run really spanned the deploy: old code started it, the current code finished it.
    for (const o of orders) {
      const result = await h.deps.temporal.workflow.getHandle(`order-${o.id}`).result();
      expect(result.status).toBe('closed');
      expect(await workflowTaskWorkers(`order-${o.id}`)).toEqual(new Set([OLD_IDENTITY, NEW_IDENTITY]));
    }
    for (const o of [mpesaOrder, qrOrder])
      expect(await workflowTaskWorkers(workflowIds.payment(o.id, 1))).toEqual(new Set([OLD_IDENTITY, NEW_IDENTITY]));

    // Exactly once: one persisted order each, one sale movement per line, stock down by 6.
    const ids = orders.map((o) => o.id);
    expect(await h.deps.knex('orders').whereIn('id', ids).whereNotNull('persisted_at').count()).toEqual([
      { count: '4' },
    ]);
    const movements = await h.deps
      .knex('inventory_movements')
      .whereIn('order_id', ids)
      .where({ reason: 'sale' })
      .select('order_id', 'delta');
    const movedPerOrder = ids.map((id) => movements.filter((m) => m.order_id === id).map((m) => m.delta));
    expect(movedPerOrder).toEqual([[-1, -1], [-1], [-2], [-1]]); // the cart's two lines, then one line each
    expect((await h.deps.knex('items').where({ id: croissant }).first()).stock_quantity).toBe(stockBefore - 6);
    // Money moved once: one push, one Checkout Session, one payment row each, nothing refunded.
    expect(await h.deps.knex('payments').whereIn('order_id', ids).orderBy('method').select('method', 'status')).toEqual(
      [
        { method: 'cash', status: 'succeeded' },
        { method: 'cash', status: 'succeeded' },
        { method: 'mpesa', status: 'succeeded' },
        { method: 'qr', status: 'succeeded' },
      ],
    );
    expect([...daraja.pushes.values()].filter((p) => p.phone === PHONE)).toHaveLength(1);
    expect(stripe.checkoutSessions().filter((s: any) => s.client_reference_id === qr.id)).toHaveLength(1);
    expect(daraja.reversals.size).toBe(0);
    expect(stripe.refunds()).toHaveLength(0);
    expect((await fetchOrder(h, cashier, qrOrder.id)).totals).toMatchObject({ paid: 2 * PRICE, balance: 0 });
  } finally {
    current.worker.shutdown();
    await current.running;
  }
}, 180_000);
