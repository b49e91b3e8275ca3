/**
 * The payment workflow's branches with mocked activities, on the time-skipping server: each test
 * scripts what the gateway answers and checks what the workflow decided (settled status, refunds
 * sent and with which key). Fast and exact where the end-to-end suites (payments-*, gateway-*)
 * drive the real adapters against the simulators.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createTimeSkippingEnv, skipTime, workflowCode } from './support/time-skipping';
import * as msg from '../core/messages';
import { SA } from '../core/search-attributes';
import type { GatewayKey, GatewayEvent, PaymentReport, PaymentWorkflowInput } from '../core/payment';
import type { InitiateResult, StatusResult } from '../core/gateway';
import type { payment } from '../workflows/payment';

const taskQueue = `payment-workflow-${randomUUID()}`;

/** What the scripted gateway answers, and what the workflow asked of it. */
interface Gateway {
  initiate: InitiateResult;
  status: StatusResult;
  cancel: StatusResult['status'];
  settled: { status: string; failureReason?: string }[];
  refunds: { idempotencyKey: string; amount: number }[];
}
const gateways = new Map<string, Gateway>();
const gatewayOf = (paymentId: string) => gateways.get(paymentId)!;

const activities = {
  async registerPayment() {
    return { callbackToken: 'token' };
  },
  async initiatePayment(req: { request: { paymentId: string } }) {
    return gatewayOf(req.request.paymentId).initiate;
  },
  async paymentStatus(req: { idempotencyKey: string }) {
    return gatewayOf(paymentIdOf(req.idempotencyKey)).status;
  },
  async cancelAtGateway(req: { idempotencyKey: string }) {
    return { status: gatewayOf(paymentIdOf(req.idempotencyKey)).cancel };
  },
  async reverseAtGateway(req: { paymentId: string; idempotencyKey: string; amount: number }) {
    gatewayOf(req.paymentId).refunds.push({ idempotencyKey: req.idempotencyKey, amount: req.amount });
    return { status: 'succeeded', reference: `refund-${req.paymentId}`, resultUrl: 'http://127.0.0.1/result' };
  },
  async settlePayment(req: { paymentId: string; status: string; failureReason?: string }) {
    gatewayOf(req.paymentId).settled.push({ status: req.status, failureReason: req.failureReason });
  },
};

/** Workflow ids are `payment-<paymentId>` here, and every gateway call carries the workflow id. */
const paymentIdOf = (idempotencyKey: string) => idempotencyKey.replace(/^payment-/, '');

let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  env = await createTimeSkippingEnv({ searchAttributes: Object.values(SA) });
  worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    activities,
    shutdownGraceTime: 1000,
    ...workflowCode(),
  });
  running = worker.run();
}, 10 * 60_000);

afterAll(async () => {
  worker?.shutdown();
  await running?.catch(() => undefined);
  await env?.teardown();
});

const pending = (reference = 'ref-1'): InitiateResult => ({ status: 'pending', reference, sandbox: true });

/** Starts a payment of 1000 whose gateway answers as scripted (the order it reports to does not exist). */
async function startPayment(gateway: GatewayKey, script: Partial<Gateway>) {
  const paymentId = randomUUID();
  gateways.set(paymentId, {
    initiate: pending(),
    status: { status: 'pending' },
    cancel: 'cancelled',
    settled: [],
    refunds: [],
    ...script,
  });
  const input: PaymentWorkflowInput = {
    parentWorkflowId: `order-${randomUUID()}`,
    gateway,
    paymentId,
    orderId: randomUUID(),
    orderNumber: 7,
    locationId: randomUUID(),
    seq: 1,
    method: gateway === 'stripe' || gateway === 'square' ? 'card' : gateway,
    provider: gateway === 'stripe' || gateway === 'square' ? gateway : null,
    amount: 1000,
    tip: 0,
    fee: 0,
    currency: gateway === 'mpesa' || gateway === 'airtel' ? 'KES' : 'USD',
    phone: '254708374149',
    publicBaseUrl: 'http://127.0.0.1',
    timing: { callbackWaitMs: 1000, pollInitialMs: 500, pollMaxMs: 2000, expireAfterMs: 10_000, lateWindowMs: 60_000 },
  };
  const handle = await env.client.workflow.start<typeof payment>('payment', {
    taskQueue,
    workflowId: `payment-${paymentId}`,
    args: [input],
  });
  return { handle, gateway: gatewayOf(paymentId), paymentId };
}

const result = (h: { result(): Promise<PaymentReport> }) => skipTime(env, () => h.result());
const callback = (e: Partial<GatewayEvent> & Pick<GatewayEvent, 'status'>): GatewayEvent => ({
  eventId: randomUUID(),
  ...e,
});

it('settles a decline from the initiating call once, and refunds nothing after the late window', async () => {
  const { handle, gateway } = await startPayment('stripe', {
    initiate: { status: 'failed', reference: 'pi_1', failureReason: 'Card declined', sandbox: true },
    status: { status: 'failed' },
  });
  const report = await result(handle);
  expect(report).toMatchObject({ status: 'failed', failureReason: 'Card declined' });
  expect(gateway.settled.map((s) => s.status)).toEqual(['failed']);
  expect(gateway.refunds).toEqual([]);
});

it('refunds a charge that succeeded after the customer cancelled, under the key derived from the workflow', async () => {
  const { handle, gateway, paymentId } = await startPayment('stripe', { cancel: 'succeeded' });
  await handle.signal(msg.cancelPaymentSignal);
  const report = await result(handle);
  expect(report).toMatchObject({ status: 'cancelled', autoRefunded: true });
  expect(gateway.refunds).toEqual([{ idempotencyKey: `auto-refund-payment-${paymentId}`, amount: 1000 }]);
});

it('does not count an unsigned success callback the status query does not confirm', async () => {
  const { handle, gateway } = await startPayment('mpesa', { status: { status: 'pending' } });
  await handle.signal(msg.gatewayEventSignal, callback({ gateway: 'mpesa', status: 'succeeded', amountPaid: 1000 }));
  const report = await result(handle);
  expect(report.status).toBe('failed');
  expect(report.failureReason).toMatch(/^no answer from M-Pesa in 10 s/);
  expect(gateway.settled.map((s) => s.status)).toEqual(['failed']);
});

it('refunds what a signed gateway over-charged, capped at the payment, and tells support the rest', async () => {
  const { handle, gateway } = await startPayment('stripe', {});
  await handle.signal(msg.gatewayEventSignal, callback({ gateway: 'stripe', status: 'succeeded', amountPaid: 1500 }));
  const report = await result(handle);
  expect(report.status).toBe('failed');
  expect(report.failureReason).toContain('support: refund the remaining 500 by hand');
  expect(gateway.refunds.map((r) => r.amount)).toEqual([1000]);
});

it('flags an unsigned amount mismatch for support and refunds nothing', async () => {
  const { handle, gateway } = await startPayment('mpesa', { status: { status: 'succeeded', amountPaid: 1 } });
  await handle.signal(msg.gatewayEventSignal, callback({ gateway: 'mpesa', status: 'succeeded', amountPaid: 1 }));
  const report = await result(handle);
  expect(report.status).toBe('failed');
  expect(report.failureReason).toContain('not refunded automatically');
  expect(gateway.refunds).toEqual([]);
});

it('refunds a late success once, however often its callback is delivered', async () => {
  const { handle, gateway } = await startPayment('stripe', {
    initiate: { status: 'failed', reference: 'pi_1', failureReason: 'Card declined', sandbox: true },
  });
  while (gateway.settled.length === 0) await new Promise((r) => setTimeout(r, 20)); // no timer before it settles
  const late = callback({ gateway: 'stripe', status: 'succeeded', amountPaid: 1000 });
  await handle.signal(msg.gatewayEventSignal, late);
  await handle.signal(msg.gatewayEventSignal, late);
  const report = await result(handle);
  expect(report).toMatchObject({ status: 'failed', autoRefunded: true });
  expect(gateway.refunds).toHaveLength(1);
});

it('ignores a callback from another gateway', async () => {
  const { handle, gateway } = await startPayment('stripe', {});
  await handle.signal(msg.gatewayEventSignal, callback({ gateway: 'airtel', status: 'succeeded', amountPaid: 1000 }));
  const report = await result(handle);
  expect(report.status).toBe('failed'); // expired: the only success was another gateway's word
  expect(gateway.settled.map((s) => s.status)).toEqual(['failed']);
});
