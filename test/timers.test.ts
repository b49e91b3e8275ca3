/**
 * The workflows' timers, on Temporal's time-skipping test server: hours of order timeouts and
 * half an hour of printer backoff in a few seconds of real time.
 *
 * Real workers run the real workflow code (the suite's prebuilt bundle) against the test server;
 * the activities are in-memory fakes with the real names that record their calls. These tests
 * are about the workflows' clocks — the real activities are covered by the harness tests.
 */
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createTimeSkippingEnv, skipTime, workflowCode } from './support/time-skipping';
import { orderStateAt } from './support/order-state';
import * as msg from '../core/messages';
import { printingTaskQueue, workflowIds, type OrderEvent } from '../core/events';
import { SA } from '../core/search-attributes';
import type { CatalogItem, OrderSnapshot, OrderState } from '../core/order';
import type { OrderActivities, StockLine } from '../activities/orders';
import type { PublishRequest } from '../db/order-events';
import type { PrintingActivities } from '../activities/printing/activities';
import type { PrintJob } from '../activities/printing/types';
import type { CheckoutInput, checkout } from '../workflows/checkout';
import type { printTicket } from '../workflows/print-ticket';

const HOUR = 3600_000;
const MINUTE = 60_000;
const locationId = randomUUID();
const caller = { callerLocationId: locationId };
const taskQueue = `timers-${randomUUID()}`;

// ---- fake activities (recorded) --------------------------------------------------------------

interface Printer {
  id: string;
  name: string;
  address: string;
}
const calls = {
  assignOrderNumber: [] as { orderId: string; locationId: string }[],
  publishOrderEvents: [] as PublishRequest[],
  persistOrder: [] as { snapshot: OrderSnapshot; stockLines: StockLine[] }[],
  resolvePrinters: [] as { locationId: string; role: 'kitchen' | 'receipt' }[],
  /** With the server's (skipped) time each attempt was scheduled at. */
  sendToPrinter: [] as { address: string; job: PrintJob; scheduledAt: number }[],
};
let printers: Printer[] = [];
/** Holds an order's event publishing until the test resolves the gate. */
const publishGates = new Map<string, Promise<void>>();
/** Holds every print's printer lookup (so its workflow ends late) until the test resolves it. */
let printerLookupGate: Promise<void> | undefined;
let orderNumbers = 0;

const orderActivities = {
  async assignOrderNumber(req: { orderId: string; locationId: string }): Promise<number> {
    calls.assignOrderNumber.push(req);
    return (orderNumbers = (orderNumbers % 99) + 1);
  },
  async publishOrderEvents(req: PublishRequest): Promise<void> {
    await publishGates.get(req.orderId);
    calls.publishOrderEvents.push(req);
  },
  async persistOrder(req: {
    snapshot: OrderSnapshot;
    stockLines: StockLine[];
    events?: OrderEvent[];
  }): Promise<{ lowStock: [] }> {
    calls.persistOrder.push(req);
    // Newer runs hand their unpublished events to the closing write: they count as published.
    if (req.events)
      calls.publishOrderEvents.push({
        orderId: req.snapshot.id,
        locationId: req.snapshot.locationId,
        events: req.events,
      });
    return { lowStock: [] };
  },
  async resolvePrinters(req: { locationId: string; role: 'kitchen' | 'receipt' }): Promise<Printer[]> {
    await printerLookupGate;
    calls.resolvePrinters.push(req);
    return printers;
  },
} satisfies Pick<OrderActivities, 'assignOrderNumber' | 'publishOrderEvents' | 'persistOrder' | 'resolvePrinters'>;
const printingActivities = {
  /** An unreachable printer: every attempt fails like a refused connection. */
  async sendToPrinter(req: { address: string; job: PrintJob }): Promise<{ bytes: number }> {
    calls.sendToPrinter.push({ ...req, scheduledAt: Context.current().info.scheduledTimestampMs });
    throw ApplicationFailure.retryable(`connect ECONNREFUSED ${req.address}`, 'PrinterUnreachable');
  },
} satisfies PrintingActivities;

const persistedOf = (orderId: string) => calls.persistOrder.filter((c) => c.snapshot.id === orderId);
const eventsOf = (orderId: string) =>
  calls.publishOrderEvents.filter((c) => c.orderId === orderId).flatMap((c) => c.events);

// ---- environment -----------------------------------------------------------------------------

let env: TestWorkflowEnvironment;
/** Waits on the server's clock, which skips ahead (skipTime: the test server's leaked lock). */
const sleep = (ms: number) => skipTime(env, () => env.sleep(ms));
const resultOf = <T>(h: { result(): Promise<T> }) => skipTime(env, () => h.result());
let workers: Worker[] = [];
let running: Promise<unknown>;

beforeAll(async () => {
  // The first run on a machine resolves the Java test server from Maven Central (~15 s).
  env = await createTimeSkippingEnv({ searchAttributes: Object.values(SA) });
  const common = { connection: env.nativeConnection, namespace: env.namespace ?? 'default', shutdownGraceTime: 1000 };
  workers = await Promise.all([
    Worker.create({
      ...common,
      taskQueue,
      activities: orderActivities,
      ...workflowCode(),
    }),
    // The location's printing queue, as on the shop's LAN box.
    Worker.create({ ...common, taskQueue: printingTaskQueue(locationId), activities: printingActivities }),
  ]);
  running = Promise.all(workers.map((w) => w.run()));
}, 10 * MINUTE);

afterAll(async () => {
  for (const w of workers) w.shutdown();
  await running?.catch(() => undefined);
  await env?.teardown();
});

// ---- orders ----------------------------------------------------------------------------------

function item(name: string, price: number): CatalogItem {
  return { id: randomUUID(), name, price, available: true, trackStock: false, modifierLists: [] };
}
const espresso = item('Espresso', 450);

/** The state api/order-service.ts createOrder starts a checkout with (tax-free, no auto-print). */
const newOrderState = (): OrderState =>
  orderStateAt({ locationId, staffId: randomUUID(), locationName: 'Timers Café' }, randomUUID(), {
    lines: [],
  }) as OrderState;

type Checkout = WorkflowHandleWithFirstExecutionRunId<typeof checkout> & { orderId: string };

/*
 * A step that never returns shows only as a Jest timeout (seen in CI, under load, not here). So
 * after each test the checkouts it left running print where their histories stopped.
 */
const startedThisTest: WorkflowHandleWithFirstExecutionRunId<typeof checkout>[] = [];
afterEach(async () => {
  for (const handle of startedThisTest.splice(0)) {
    const { status } = await handle.describe();
    if (status.name !== 'RUNNING') continue;
    const events = (await handle.fetchHistory()).events ?? [];
    const tail = events.slice(-25).map((e) => {
      const failed = e.workflowTaskFailedEventAttributes;
      return `${e.eventId} ${temporal.api.enums.v1.EventType[e.eventType ?? 0]}${failed ? ` ${String(failed.cause)} ${failed.failure?.message}` : ''}`;
    });
    console.warn(`${handle.workflowId} still running; its history ends:\n${tail.join('\n')}`);
  }
});

/** Starts a checkout like the API does and waits for its order number (openOrder update). */
async function startCheckout(opts: Partial<Omit<CheckoutInput, 'state'>> = {}): Promise<Checkout> {
  const state = newOrderState();
  const handle = await env.client.workflow.start<typeof checkout>('checkout', {
    taskQueue,
    workflowId: `order-${state.id}`,
    args: [{ state, abandonAfterMs: 12 * HOUR, ...opts }],
  });
  startedThisTest.push(handle);
  const opened = await handle.executeUpdate(msg.openOrderUpdate, { args: [caller] });
  expect(opened.orderNumber).not.toBeNull();
  return Object.assign(handle, { orderId: state.id });
}

const addLine = (h: Checkout, what = espresso, quantity = 1) =>
  h.executeUpdate(msg.addLineUpdate, { args: [{ item: what, quantity, modifierIds: [], ...caller }] });
const pay = (h: Checkout, amount: number) =>
  h.executeUpdate(msg.addPaymentUpdate, { args: [{ method: 'cash', amount, tendered: amount, ...caller }] });
const snapshot = (h: Checkout) => h.query(msg.snapshotQuery);

/*
 * Durations are measured on the server's clock from the histories' event times (and the
 * snapshots' workflow-time stamps), not with env.currentTimeMs() after result(): the Java test
 * server keeps a 10-year execution-timeout timer for every workflow it ever started and, still
 * unlocked while result() fetches the outcome, skips to the next one once nothing else is due.
 */
async function eventTimes(handle: {
  fetchHistory(): Promise<{ events?: temporal.api.history.v1.IHistoryEvent[] | null }>;
}) {
  const events = (await handle.fetchHistory()).events ?? [];
  return { startedAt: tsToMs(events[0]!.eventTime!), endedAt: tsToMs(events.at(-1)!.eventTime!), last: events.at(-1)! };
}

async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- tests -----------------------------------------------------------------------------------

describe('abandoned orders', () => {
  it('cancels an order left open with no payment after abandonAfterMs', async () => {
    const h = await startCheckout({ abandonAfterMs: 12 * HOUR });

    const result = await resultOf(h); // time skips to the deadline
    const { startedAt, endedAt, last } = await eventTimes(h);

    expect(last.workflowExecutionCompletedEventAttributes).toBeTruthy();
    expect(result.status).toBe('cancelled');
    expect(result.cancelReason).toBe('abandoned: no activity');
    const idle = Date.parse(result.closedAt!) - startedAt;
    expect(idle).toBeGreaterThanOrEqual(12 * HOUR);
    expect(idle).toBeLessThan(12 * HOUR + MINUTE);
    expect(endedAt - startedAt).toBeLessThan(12 * HOUR + MINUTE);
    expect(persistedOf(h.orderId).map((c) => c.snapshot.status)).toEqual(['cancelled']);
    const published = eventsOf(h.orderId)
      .filter((e) => e.event === 'order.updated')
      .at(-1);
    expect((published?.data as OrderSnapshot).status).toBe('cancelled');
  });

  it('restarts the inactivity clock on every cart update', async () => {
    const h = await startCheckout({ abandonAfterMs: 12 * HOUR });
    await sleep(6 * HOUR);
    const touched = await addLine(h);

    await sleep(8 * HOUR); // 14 h after the start: past the first deadline, 8 h after the update
    expect((await snapshot(h)).status).toBe('open');
    expect(persistedOf(h.orderId)).toHaveLength(0);

    const result = await resultOf(h);
    expect(result.status).toBe('cancelled');
    expect(result.cancelReason).toBe('abandoned: no activity');
    expect(result.lines).toHaveLength(1);
    const idle = Date.parse(result.closedAt!) - Date.parse(touched.updatedAt);
    expect(idle).toBeGreaterThanOrEqual(12 * HOUR);
    expect(idle).toBeLessThan(12 * HOUR + MINUTE);
    const { startedAt } = await eventTimes(h);
    expect(Date.parse(touched.updatedAt) - startedAt).toBeGreaterThanOrEqual(6 * HOUR);
    expect(Date.parse(touched.updatedAt) - startedAt).toBeLessThan(6 * HOUR + MINUTE);
    expect(persistedOf(h.orderId)).toHaveLength(1);
  });

  it('keeps an order with money taken open past the deadline', async () => {
    const h = await startCheckout({ abandonAfterMs: 12 * HOUR });
    await addLine(h, espresso, 2); // 900
    const partly = await pay(h, 400);
    expect(partly.order.status).toBe('open');
    expect(partly.order.totals.balance).toBe(500);

    await sleep(24 * HOUR + MINUTE); // twice the abandon time
    const s = await snapshot(h);
    expect(s.status).toBe('open');
    expect(s.cancelReason).toBeNull();
    expect(s.payments.map((p) => p.status)).toEqual(['succeeded']);
    expect(persistedOf(h.orderId)).toHaveLength(0);

    // Still a working order: paying the rest closes it.
    const rest = await pay(h, 500);
    expect(rest.order.status).toBe('closed');
    const result = await resultOf(h);
    expect(result.status).toBe('closed');
    // Persisted as closed. The time-skipping server may time the local close out while it jumps
    // (the close then runs again as the regular activity; the real one is idempotent by persisted_at).
    expect([...new Set(persistedOf(h.orderId).map((c) => c.snapshot.status))]).toEqual(['closed']);
  });
});

describe('paid orders waiting for the kitchen', () => {
  async function paidWhileCooking(opts: Partial<Omit<CheckoutInput, 'state'>> = {}) {
    const h = await startCheckout(opts);
    await addLine(h);
    const sent = await h.executeUpdate(msg.submitUpdate, { args: [caller] });
    expect(sent.kitchenStatus).toBe('sent');
    const paid = await pay(h, sent.totals.total);
    expect(paid.order.status).toBe('closed');
    await eventually(() => persistedOf(h.orderId).length === 1, 'persistOrder');
    return { h, closedAt: Date.parse(paid.order.closedAt!) };
  }

  it('completes when the kitchen bumps the order', async () => {
    const { h, closedAt } = await paidWhileCooking();
    await sleep(HOUR);
    expect((await h.describe()).status.name).toBe('RUNNING');

    const ready = await h.executeUpdate(msg.readyUpdate, { args: [caller] });
    expect(ready.kitchenStatus).toBe('ready');
    const result = await resultOf(h);
    expect(result).toMatchObject({ status: 'closed', kitchenStatus: 'ready' });
    const { endedAt } = await eventTimes(h);
    expect(endedAt - closedAt).toBeGreaterThanOrEqual(HOUR);
    expect(endedAt - closedAt).toBeLessThan(HOUR + MINUTE);
    expect(eventsOf(h.orderId).some((e) => e.event === 'order.ready')).toBe(true);
    expect(persistedOf(h.orderId).map((c) => c.snapshot.status)).toEqual(['closed']);
  });

  it('completes by itself after kitchenWaitMs (default 4 h) without a bump', async () => {
    const { h, closedAt } = await paidWhileCooking();
    const result = await resultOf(h);
    const waited = (await eventTimes(h)).endedAt - closedAt;
    expect(result).toMatchObject({ status: 'closed', kitchenStatus: 'sent' });
    expect(waited).toBeGreaterThanOrEqual(4 * HOUR);
    expect(waited).toBeLessThan(4 * HOUR + MINUTE);
    expect(eventsOf(h.orderId).some((e) => e.event === 'order.ready')).toBe(false);
  });

  it('honours a shorter kitchenWaitMs', async () => {
    const { h, closedAt } = await paidWhileCooking({ kitchenWaitMs: 30 * MINUTE });
    const result = await resultOf(h);
    const waited = (await eventTimes(h)).endedAt - closedAt;
    expect(result.kitchenStatus).toBe('sent');
    expect(waited).toBeGreaterThanOrEqual(30 * MINUTE);
    expect(waited).toBeLessThan(31 * MINUTE);
  });
});

describe('printing to an unreachable printer', () => {
  it('retries with backoff, reports the first and last failure, and gives up after maxAttempts', async () => {
    const orderId = randomUUID();
    const printer = { id: randomUUID(), name: 'Kitchen', address: '127.0.0.1:9' };
    printers = [printer];
    const job: PrintJob = {
      kind: 'kitchen',
      ticket: {
        orderId,
        orderNumber: 7,
        type: 'takeaway',
        table: null,
        customerName: null,
        createdAt: new Date().toISOString(),
        lines: [{ name: 'Espresso', quantity: 1, modifiers: [], note: null }],
      },
    };
    const before = calls.sendToPrinter.length;

    const handle = await env.client.workflow.start<typeof printTicket>('printTicket', {
      taskQueue,
      workflowId: `print-${orderId}-kitchen-1`,
      args: [{ role: 'kitchen', job, locationId, options: { maxAttempts: 30 } }],
    });
    const result = await resultOf(handle);
    const { startedAt, endedAt } = await eventTimes(handle);
    const elapsed = endedAt - startedAt;

    expect(result).toEqual({ printed: [], failed: [printer.id] });
    expect(calls.resolvePrinters.at(-1)).toEqual({ locationId, role: 'kitchen' });
    const attempts = calls.sendToPrinter.slice(before);
    expect(attempts).toHaveLength(30);
    expect(attempts.every((a) => a.address === printer.address && a.job.kind === 'kitchen')).toBe(true);

    // Default backoff: 2 s doubling to 60 s → 2+4+8+16+32 + 24×60 = 1502 s of skipped time.
    const gaps = attempts.slice(1).map((a, i) => a.scheduledAt - attempts[i]!.scheduledAt);
    const expected = Array.from({ length: 29 }, (_, i) => Math.min(2000 * 2 ** i, 60_000));
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(expected[i]!);
      expect(gap).toBeLessThan(expected[i]! + 5_000);
    });
    expect(elapsed).toBeGreaterThanOrEqual(1502_000);
    expect(elapsed).toBeLessThan(30 * MINUTE);

    const failures = eventsOf(orderId).filter((e) => e.event === 'printer.failed');
    expect(failures.map((e) => e.data)).toEqual([
      expect.objectContaining({
        printerId: printer.id,
        kind: 'kitchen',
        attempt: 1,
        giveUp: false,
        reason: expect.stringContaining('ECONNREFUSED'),
      }),
      expect.objectContaining({ printerId: printer.id, kind: 'kitchen', attempt: 30, giveUp: true }),
    ]);
    expect(failures.every((e) => e.topics.includes(`orders:${locationId}`))).toBe(true);
  });
});

describe('continue-as-new', () => {
  /** The run ids from the first to the latest, checking that each earlier run ended in ContinueAsNew. */
  async function runsOf(h: Checkout): Promise<string[]> {
    const runs = [h.firstExecutionRunId];
    for (;;) {
      const history = await env.client.workflow.getHandle(h.workflowId, runs.at(-1)).fetchHistory();
      const next = history.events!.at(-1)!.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (!next) return runs;
      runs.push(next);
    }
  }

  async function waitForRun(h: Checkout, count: number): Promise<string[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const runs = await runsOf(h);
      if (runs.length >= count) return runs;
      if (Date.now() > deadline) throw new Error(`expected ${count} runs, saw ${runs.length}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('keeps the Idempotency-Key promise across continue-as-new: a repeated keyed update changes nothing', async () => {
    const h = await startCheckout({ maxUpdatesPerRun: 5 });
    const keyedLine = () =>
      h.executeUpdate(msg.addLineUpdate, {
        args: [{ item: item('Keyed', 500), quantity: 1, modifierIds: [], ...caller }],
        updateId: 'addLine:tap-1',
      });
    const keyedPay = () =>
      h.executeUpdate(msg.addPaymentUpdate, {
        args: [{ method: 'cash', amount: 100, tendered: 100, ...caller }],
        updateId: 'addPayment:pay-1',
      });
    await keyedLine();
    for (let i = 2; i <= 4; i++) await addLine(h, item(`Item ${i}`, 100 * i));
    const paid = await keyedPay(); // the 5th update: this run continues as new
    await waitForRun(h, 2);

    const lineAgain = await keyedLine();
    expect(lineAgain.lines.filter((l) => l.name === 'Keyed')).toHaveLength(1);
    const payAgain = await keyedPay();
    expect(payAgain.payment.id).toBe(paid.payment.id);
    const s = await snapshot(h);
    expect(s.payments).toHaveLength(1);
    expect(s.lines).toHaveLength(4);
    expect(s.version).toBe(paid.order.version);
    await h.terminate('test done');
  });

  it('continues as new every maxUpdatesPerRun updates and carries the whole order', async () => {
    const h = await startCheckout({ maxUpdatesPerRun: 5 });
    for (let i = 1; i <= 12; i++) {
      const s = await addLine(h, item(`Item ${i}`, 100 * i));
      expect(s.lines).toHaveLength(i);
      // Let each run finish publishing and continue before the next update arrives.
      if (i % 5 === 0) await waitForRun(h, 1 + i / 5);
    }

    const s = await snapshot(h);
    expect(s.lines.map((l) => l.name)).toEqual(Array.from({ length: 12 }, (_, i) => `Item ${i + 1}`));
    expect(s.version).toBe(13); // order number + 12 lines
    expect(s.orderNumber).toBe((await h.query(msg.snapshotQuery)).orderNumber);

    const runs = await runsOf(h);
    expect(runs).toHaveLength(3); // updates 1–5 | 6–10 | 11–12
    const latest = await h.describe();
    expect(latest.runId).toBe(runs[2]);
    expect(latest.runId).not.toBe(h.firstExecutionRunId);
    expect(latest.status.name).toBe('RUNNING');
    expect(calls.assignOrderNumber.filter((c) => c.orderId === h.orderId)).toHaveLength(1);

    const cancelled = await h.executeUpdate(msg.cancelUpdate, { args: [{ reason: 'customer left', ...caller }] });
    expect(cancelled.status).toBe('cancelled');
    const result = await resultOf(h);
    expect(result).toMatchObject({ status: 'cancelled', version: 14, cancelReason: 'customer left' });
    expect(result.lines).toHaveLength(12);
    expect(persistedOf(h.orderId).map((c) => c.snapshot.lines.length)).toEqual([12]);
  });

  /*
   * Regression: a run that decided to continue as new waits for its outbox to drain; a close (or
   * cancel, or auto-printed submit) arriving in that window must still be persisted and printed.
   */
  it('does not lose a close that arrives while the run waits to continue as new', async () => {
    const h = await startCheckout({ maxUpdatesPerRun: 5 });
    for (let i = 1; i <= 4; i++) await addLine(h);
    // Publishing is slow (a database hiccup): the 5th update makes the run wait for an empty
    // outbox before it continues as new, and the customer pays in that window.
    let release!: () => void;
    publishGates.set(h.orderId, new Promise<void>((r) => (release = r)));
    try {
      await addLine(h);
      const paid = await pay(h, 5 * espresso.price);
      expect(paid.order.status).toBe('closed');
      release();
      await sleep(MINUTE);
      await eventually(() => persistedOf(h.orderId).length === 1, 'the closed order to be persisted', 2_000);
      expect(persistedOf(h.orderId)[0]!.snapshot.status).toBe('closed');
      expect((await resultOf(h)).status).toBe('closed');
    } finally {
      release();
      publishGates.delete(h.orderId);
      if ((await h.describe()).status.name === 'RUNNING') await h.terminate('test done');
    }
  });

  it('continues as new after a burst of updates without losing any', async () => {
    const h = await startCheckout({ maxUpdatesPerRun: 5 });
    // Back to back, each update lands while the previous one's events are being published, so
    // the run only continues once the burst is over (it waits for an empty outbox).
    for (let i = 1; i <= 12; i++) await addLine(h, item(`Item ${i}`, 100 * i));

    const runs = await waitForRun(h, 2);
    expect((await h.describe()).runId).toBe(runs.at(-1));
    const s = await snapshot(h);
    expect(s.lines).toHaveLength(12);
    expect(s.version).toBe(13);
    await h.terminate('test done');
  });
});

describe('the test server itself', () => {
  /*
   * A cash payment's drawer kick is a print workflow the order abandons when it ends. When that
   * print ends after its order, the Java test server leaks a time-skipping lock (see skipTime in
   * test/support/time-skipping.ts): later waits skipped no time and hung, which in CI showed as
   * the kitchen-timer tests timing out.
   */
  it('still skips time after a print workflow ends later than its order', async () => {
    printers = []; // the kick has nothing to print: it ends as soon as its printer lookup returns
    let release!: () => void;
    printerLookupGate = new Promise<void>((r) => (release = r));
    try {
      const h = await startCheckout();
      await addLine(h);
      expect((await pay(h, espresso.price)).order.status).toBe('closed');
      expect((await resultOf(h)).status).toBe('closed'); // the drawer kick's print is still looking up printers
      release();
      const kick = env.client.workflow.getHandle(workflowIds.print(h.orderId, 'drawerKick', 1));
      while ((await kick.describe()).status.name === 'RUNNING') await new Promise((r) => setTimeout(r, 20));

      const before = await env.currentTimeMs();
      await sleep(HOUR);
      expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(HOUR);
    } finally {
      release();
      printerLookupGate = undefined;
    }
  });
});
