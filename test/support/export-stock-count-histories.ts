/**
 * Runs the stock-count scenarios against the real stack and writes each run's history to
 * test/histories/<scenario>--stock-count[-run<n>].json, for test/replay.test.ts.
 *
 * Only these scenarios: unlike `npm run histories:export` it never rewrites another file, and it
 * refuses to overwrite one of its own (committed histories are records; add a scenario instead):
 *   node -r @swc-node/register test/support/export-stock-count-histories.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import globalSetup from './global-setup';
import globalTeardown from './global-teardown';
import { startHarness, type Harness } from './harness';
import { newItem, sell } from './inventory';
import * as sc from '../../core/stock-count';
import type { stockCount } from '../../workflows/stock-count';

const OUT = path.resolve(__dirname, '..', 'histories');

interface Ctx {
  h: Harness;
  manager: string;
  cashier: string;
}

async function post(c: Ctx, p: string, body?: unknown) {
  const res = await c.h.api('POST', p, { token: c.manager, body });
  if (res.status >= 300 && res.status !== 409 && res.status !== 422)
    throw new Error(`${p}: ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}
const openCount = async (c: Ctx, itemIds: string[]) =>
  (await post(c, '/api/v1/stock-counts', { itemIds })).body.id as string;

/** Starts a count's workflow directly (as the API does) with timings no request can set. */
async function startDirect(c: Ctx, itemIds: string[], opts: { abandonAfterMs: number; maxUpdatesPerRun?: number }) {
  const id = randomUUID();
  const handle = await c.h.deps.temporal.workflow.start<typeof stockCount>('stockCount', {
    taskQueue: c.h.taskQueue,
    workflowId: sc.stockCountWorkflowId(id),
    args: [
      {
        state: {
          id,
          locationId: c.h.shop.locationId,
          staffId: c.h.shop.staff['Manager']!,
          status: 'open',
          itemIds: null,
          counted: {},
          seq: 0,
          startedAt: new Date().toISOString(),
          cancelReason: null,
        },
        itemIds,
        ...opts,
      },
    ],
  });
  const opened = await handle
    .executeUpdate(sc.openStockCountUpdate, { args: [{ callerLocationId: c.h.shop.locationId }] })
    .then(
      () => true,
      () => false,
    );
  return { id, handle, opened };
}

/** Each scenario returns the count ids whose workflows it ran. */
const scenarios: Record<string, (c: Ctx) => Promise<string[]>> = {
  'stock-count-sell-while-counting': async (c) => {
    const a = await newItem(c.h, c.manager, { stockQuantity: 20 });
    const b = await newItem(c.h, c.manager, { stockQuantity: 5 });
    const id = await openCount(c, [a, b]);
    await sell(c.h, c.cashier, a, 3);
    await post(c, `/api/v1/stock-counts/${id}/counts`, { itemId: a, counted: 15 });
    await post(c, `/api/v1/stock-counts/${id}/counts`, { itemId: '00000000-0000-4000-8000-000000000000', counted: 1 }); // 422
    await post(c, `/api/v1/stock-counts/${id}/counts`, { itemId: a, counted: 16 }); // last value wins
    await sell(c.h, c.cashier, a, 4);
    await post(c, `/api/v1/stock-counts/${id}/complete`);
    return [id];
  },
  'stock-count-cancel': async (c) => {
    const a = await newItem(c.h, c.manager, { stockQuantity: 8 });
    const id = await openCount(c, [a]);
    await post(c, `/api/v1/stock-counts/${id}/counts`, { itemId: a, counted: 2 });
    await post(c, `/api/v1/stock-counts/${id}/cancel`);
    return [id];
  },
  'stock-count-complete-twice': async (c) => {
    const a = await newItem(c.h, c.manager, { stockQuantity: 10 });
    const id = await openCount(c, [a]);
    await post(c, `/api/v1/stock-counts/${id}/counts`, { itemId: a, counted: 7 });
    await Promise.all([post(c, `/api/v1/stock-counts/${id}/complete`), post(c, `/api/v1/stock-counts/${id}/complete`)]);
    return [id];
  },
  'stock-count-rejected-overlap': async (c) => {
    const a = await newItem(c.h, c.manager, { stockQuantity: 10 });
    const first = await openCount(c, [a]);
    const second = await startDirect(c, [a], { abandonAfterMs: 60_000 });
    if (second.opened) throw new Error('the overlapping count opened');
    await post(c, `/api/v1/stock-counts/${first}/cancel`);
    return [second.id];
  },
  'stock-count-abandoned': async (c) => {
    const a = await newItem(c.h, c.manager, { stockQuantity: 10 });
    const { id, handle } = await startDirect(c, [a], { abandonAfterMs: 1500 });
    await handle.executeUpdate(sc.recordCountUpdate, {
      args: [{ itemId: a, counted: 9, staffId: c.h.shop.staff['Manager']!, callerLocationId: c.h.shop.locationId }],
    });
    await handle.result();
    return [id];
  },
  'stock-count-continue-as-new': async (c) => {
    const a = await newItem(c.h, c.manager, { stockQuantity: 10 });
    const b = await newItem(c.h, c.manager, { stockQuantity: 10 });
    const { id, handle } = await startDirect(c, [a, b], { abandonAfterMs: 3600_000, maxUpdatesPerRun: 2 });
    for (const [itemId, counted] of [
      [a, 1],
      [b, 2],
      [a, 3],
    ] as const) {
      await handle.executeUpdate(sc.recordCountUpdate, {
        args: [{ itemId, counted, staffId: c.h.shop.staff['Manager']!, callerLocationId: c.h.shop.locationId }],
      });
    }
    await post(c, `/api/v1/stock-counts/${id}/complete`);
    return [id];
  },
};

async function writeRuns(h: Harness, name: string, countId: string): Promise<void> {
  const workflowId = sc.stockCountWorkflowId(countId);
  await h.deps.temporal.workflow
    .getHandle(workflowId)
    .result()
    .catch(() => undefined);
  const runs: string[] = [];
  for await (const w of h.deps.temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(w.runId);
  runs.reverse(); // oldest first
  for (const [i, runId] of runs.entries()) {
    const history = await h.deps.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
    if (!history.events?.length) throw new Error(`${workflowId}/${runId}: empty history`);
    const suffix = runs.length > 1 ? `-run${i + 1}` : '';
    const file = path.join(OUT, `${name}--stock-count${suffix}.json`);
    if (fs.existsSync(file)) throw new Error(`${file} exists: committed histories are never rewritten`);
    fs.writeFileSync(
      file,
      JSON.stringify(
        { workflowId, history: JSON.parse(historyToJSON(temporal.api.history.v1.History.fromObject(history))) },
        null,
        1,
      ),
    );
    console.log(`wrote ${path.relative(process.cwd(), file)} (${history.events.length} events)`);
  }
}

async function main() {
  await globalSetup();
  const h = await startHarness();
  try {
    const c = { h, manager: await h.login('2345'), cashier: await h.login('3456') };
    const only = process.argv.slice(2);
    for (const [name, run] of Object.entries(scenarios)) {
      if (only.length && !only.includes(name)) continue;
      const ids = await run(c);
      for (const [i, id] of ids.entries()) await writeRuns(h, ids.length > 1 ? `${name}-${i + 1}` : name, id);
    }
  } finally {
    await h.close();
    await globalTeardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
