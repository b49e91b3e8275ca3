/**
 * The stock-count workflow's clock on Temporal's time-skipping test server: a day of abandonment
 * in seconds of real time, and continue-as-new under the per-run Update limit.
 *
 * Real workers run the real workflow code against the test server; the activities are in-memory
 * fakes with the real names that record their calls (the real ones are covered over HTTP in
 * test/stock-counts.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { tsToMs } from '@temporalio/common/lib/time';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createTimeSkippingEnv, skipTime, workflowCode } from './support/time-skipping';
import { SA } from '../core/search-attributes';
import * as sc from '../core/stock-count';
import type { InventoryActivities, OpenStockCountRequest, RecordStockCountRequest } from '../activities/inventory';
import type { StockCountInput, stockCount } from '../workflows/stock-count';
import { loadConfig } from '../platform/config';

const HOUR = 3600_000;
const MINUTE = 60_000;
const locationId = randomUUID();
const caller = { callerLocationId: locationId };
const staffId = randomUUID();
const taskQueue = `stock-count-timers-${randomUUID()}`;
const itemIds = [randomUUID(), randomUUID(), randomUUID()];

const calls = {
  record: [] as RecordStockCountRequest[],
  apply: [] as { countId: string }[],
  cancel: [] as { countId: string; reason: string }[],
};
const activities = {
  async openStockCount(_req: OpenStockCountRequest) {
    return { ok: true as const, itemIds };
  },
  async recordStockCount(req: RecordStockCountRequest) {
    calls.record.push(req);
    return {
      itemId: req.itemId,
      name: 'Item',
      expected: 10,
      counted: req.counted,
      systemAtCount: 10,
      cost: null,
      countedAt: new Date().toISOString(),
    };
  },
  async applyStockCount(req: { countId: string; staffId: string }) {
    calls.apply.push(req);
  },
  async cancelStockCount(req: { countId: string; staffId: string | null; reason: string }) {
    calls.cancel.push(req);
  },
} satisfies InventoryActivities;

let env: TestWorkflowEnvironment;
/** Waits on the server's clock, which skips ahead (skipTime: the test server's leaked lock). */
const sleep = (ms: number) => skipTime(env, () => env.sleep(ms));
const resultOf = <T>(h: { result(): Promise<T> }) => skipTime(env, () => h.result());
let worker: Worker;
let running: Promise<unknown>;

beforeAll(async () => {
  env = await createTimeSkippingEnv({ searchAttributes: Object.values(SA) });
  worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    shutdownGraceTime: 1000,
    taskQueue,
    activities,
    ...workflowCode(),
  });
  running = worker.run();
}, 10 * MINUTE);

afterAll(async () => {
  worker?.shutdown();
  await running?.catch(() => undefined);
  await env?.teardown();
});

/** Starts a count like the API does (the default abandon time from the configuration) and waits until it is open. */
async function startCount(opts: Partial<Omit<StockCountInput, 'state'>> = {}) {
  const id = randomUUID();
  const abandonAfterMs = loadConfig({ TILLFLOW_TOKEN_SECRET: 'x'.repeat(40) }).stockCountAbandonAfterMs;
  const handle = await env.client.workflow.start<typeof stockCount>('stockCount', {
    taskQueue,
    workflowId: sc.stockCountWorkflowId(id),
    args: [
      {
        state: {
          id,
          locationId,
          staffId,
          status: 'open',
          itemIds: null,
          counted: {},
          seq: 0,
          startedAt: new Date().toISOString(),
          cancelReason: null,
        },
        abandonAfterMs,
        ...opts,
      },
    ],
  });
  await handle.executeUpdate(sc.openStockCountUpdate, { args: [caller] });
  return Object.assign(handle, { countId: id });
}

const count = (h: Awaited<ReturnType<typeof startCount>>, itemId: string, counted: number) =>
  h.executeUpdate(sc.recordCountUpdate, { args: [{ itemId, counted, staffId, ...caller }] });

async function eventTimes(h: { fetchHistory(): Promise<{ events?: any[] | null }> }) {
  const events = (await h.fetchHistory()).events ?? [];
  return { startedAt: tsToMs(events[0]!.eventTime!), endedAt: tsToMs(events.at(-1)!.eventTime!) };
}

describe('abandoned stock counts', () => {
  it('cancels a count nobody touches for TILLFLOW_STOCK_COUNT_ABANDON_HOURS (default 24 h), applying nothing', async () => {
    const h = await startCount();
    const result = await resultOf(h); // time skips to the deadline
    const { startedAt, endedAt } = await eventTimes(h);

    expect(result).toMatchObject({ status: 'cancelled', cancelReason: 'abandoned: untouched for 24 h' });
    expect(endedAt - startedAt).toBeGreaterThanOrEqual(24 * HOUR);
    expect(endedAt - startedAt).toBeLessThan(24 * HOUR + MINUTE);
    expect(calls.cancel.filter((c) => c.countId === h.countId)).toEqual([
      expect.objectContaining({ reason: 'abandoned: untouched for 24 h' }),
    ]);
    expect(calls.apply.filter((c) => c.countId === h.countId)).toHaveLength(0);
  });

  it('restarts the clock on every recorded count', async () => {
    const h = await startCount();
    await sleep(20 * HOUR);
    await count(h, itemIds[0]!, 4);
    await sleep(10 * HOUR); // 30 h after the start, 10 h after the count
    expect((await h.query(sc.stockCountStateQuery)).status).toBe('open');

    const result = await resultOf(h);
    const { startedAt, endedAt } = await eventTimes(h);
    expect(result.status).toBe('cancelled');
    expect(endedAt - startedAt).toBeGreaterThanOrEqual(44 * HOUR);
    expect(endedAt - startedAt).toBeLessThan(44 * HOUR + MINUTE);
  });
});

describe('large counts', () => {
  it('continues as new before the per-run Update limit, keeping every recorded count', async () => {
    const h = await startCount({ maxUpdatesPerRun: 3 });
    for (const [i, itemId] of [...itemIds, ...itemIds].entries()) await count(h, itemId, i);
    const state = await h.query(sc.stockCountStateQuery);
    expect(state.counted).toEqual({
      [itemIds[0]!]: expect.objectContaining({ counted: 3 }),
      [itemIds[1]!]: expect.objectContaining({ counted: 4 }),
      [itemIds[2]!]: expect.objectContaining({ counted: 5 }),
    });
    expect((await h.describe()).runId).not.toBe(h.firstExecutionRunId);

    await h.executeUpdate(sc.completeStockCountUpdate, { args: [{ staffId, ...caller }] });
    expect((await resultOf(h)).status).toBe('completed');
    expect(calls.apply.filter((c) => c.countId === h.countId)).toHaveLength(1);
  });
});
