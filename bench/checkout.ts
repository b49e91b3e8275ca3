/**
 * Checkout latency bench: `npm run bench:checkout`.
 *
 * Brings the real stack up the way the test suite does (embedded Postgres, Temporal dev server,
 * central + printing worker, the API over HTTP; see test/support) and measures, in one run and
 * for a fixed duration each (after a short warm-up):
 *
 *   1. checkout over HTTP: N terminals, each looping open → 3 lines → cash payment → closed;
 *   2. floor: a bare Temporal Update on a no-op workflow (workflows/bench-noop.ts);
 *   3. CRUD baseline: the same cart mutation as one plain Postgres transaction.
 *
 * Env: BENCH_SECONDS (default 20, per phase), BENCH_TERMINALS (default 10),
 *      BENCH_WARMUP_SECONDS (default 2), BENCH_TARGET (dev: the Temporal dev server, default;
 *      cluster: Temporal server v1.29.1 on PostgreSQL from `npm run cluster`). Targets are informational: the exit code is 0 unless the
 *      stack failed (setup/teardown threw, a phase produced errors or no samples).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Knex } from 'knex';
import type { WorkflowHandle } from '@temporalio/client';
import type { Harness } from '../test/support/harness';
import { benchBumpUpdate, benchDoneSignal, type benchNoop } from '../workflows/bench-noop';
import { postPayment } from '../test/support/payments';
import { installStopSignals, runBench, stop } from './run';

// ---- configuration --------------------------------------------------------------------------

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

const SECONDS = positiveNumber('BENCH_SECONDS', 20);
const TERMINALS = Math.round(positiveNumber('BENCH_TERMINALS', 10));
const WARMUP_SECONDS = positiveNumber('BENCH_WARMUP_SECONDS', 2);
const TARGET = process.env.BENCH_TARGET === 'cluster' ? 'cluster' : 'dev';
/** inline: the central worker in the bench's process (default); process: the worker as its own process. */
const WORKER = process.env.BENCH_WORKER === 'process' ? 'process' : 'inline';
/** A fresh no-op workflow per client after this many updates (Temporal allows ~2,000 per run). */
const UPDATES_PER_NOOP_WORKFLOW = 500;
const CASHIER_PIN = '3456';
/**
 * Workflow tasks + activities + local activities + Updates per checkout before issue 10's work
 * (measured with this bench on 2026-12-02): the target is at most half of it.
 */
const BASELINE_ACTIONS_PER_CHECKOUT = 21.9;

// ---- timing & statistics --------------------------------------------------------------------

const now = () => process.hrtime.bigint();
const msSince = (t0: bigint) => Number(now() - t0) / 1e6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Samples {
  readonly values: number[] = [];
  add(ms: number): void {
    this.values.push(ms);
  }
  get count(): number {
    return this.values.length;
  }
  /** Nearest-rank percentile over the sorted samples (NaN when empty). */
  percentile(p: number): number {
    if (this.values.length === 0) return NaN;
    const sorted = [...this.values].sort((a, b) => a - b);
    const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
    return sorted[rank - 1];
  }
  get max(): number {
    return this.values.length ? Math.max(...this.values) : NaN;
  }
}

interface PhaseResult {
  /** Wall time from the start of the measured window until every client finished its last op. */
  elapsedS: number;
  errors: number;
  errorSamples: string[];
  /** CPU cores busy on average: this process tree (bench, API, workers, Postgres, Temporal) vs the rest of the machine. */
  cpu?: { stack: number; byKind: Array<[string, number]>; others: number };
}

// ---- CPU accounting (Linux /proc; silently absent elsewhere) ----------------------------------

const CLOCK_TICKS = 100; // USER_HZ on Linux

/**
 * CPU seconds used so far by this process and each kind of descendant (Postgres backends, the
 * Temporal dev server), keyed by command name; this process (API, workers, bench clients) is "node".
 */
function stackCpuSeconds(): Map<string, number> | undefined {
  try {
    const procs = new Map<number, { comm: string; ppid: number; ticks: number }>();
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' '); // fields from #3 (state) on
      procs.set(Number(entry), { comm, ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    }
    const inTree = (pid: number): boolean => {
      for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
        if (p === process.pid) return true;
        const info = procs.get(p);
        if (!info) return false;
        p = info.ppid;
      }
      return false;
    };
    const byKind = new Map<string, number>();
    for (const [pid, info] of procs) {
      if (!inTree(pid)) continue;
      const kind = pid === process.pid ? 'node' : info.comm.split(/[\s:]/)[0] || 'other';
      byKind.set(kind, (byKind.get(kind) ?? 0) + info.ticks / CLOCK_TICKS);
    }
    return byKind;
  } catch {
    return undefined;
  }
}

/** CPU seconds the whole machine was busy so far (all cores). */
function machineBusySeconds(): number | undefined {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = cpu;
    return (user + nice + system + irq + softirq + (steal ?? 0)) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Runs `clients` loops until the deadline; every loop finishes the op it started, then stops. */
async function runClients(
  clients: number,
  seconds: number,
  loop: (client: number, deadline: bigint, fail: (msg: string) => Promise<void>) => Promise<void>,
): Promise<PhaseResult> {
  const result: PhaseResult = { elapsedS: 0, errors: 0, errorSamples: [] };
  const fail = async (msg: string) => {
    result.errors += 1;
    if (result.errorSamples.length < 5) result.errorSamples.push(msg.slice(0, 300));
    await sleep(100); // a broken stack must not turn into a hot loop
  };
  const t0 = now();
  const stack0 = stackCpuSeconds();
  const busy0 = machineBusySeconds();
  const deadline = t0 + BigInt(Math.round(seconds * 1e9));
  await Promise.all(
    Array.from({ length: clients }, (_, i) =>
      loop(i, deadline, fail).catch((err) => {
        result.errors += 1;
        result.errorSamples.push(`client ${i} aborted: ${(err as Error)?.stack ?? err}`.slice(0, 600));
      }),
    ),
  );
  result.elapsedS = msSince(t0) / 1000;
  const stack1 = stackCpuSeconds();
  const busy1 = machineBusySeconds();
  if (stack0 !== undefined && stack1 !== undefined && busy0 !== undefined && busy1 !== undefined) {
    const byKind = [...stack1]
      .map(([kind, sec]) => [kind, (sec - (stack0.get(kind) ?? 0)) / result.elapsedS] as [string, number])
      .filter(([, cores]) => cores >= 0.005)
      .sort((a, b) => b[1] - a[1]);
    const stack = byKind.reduce((sum, [, cores]) => sum + cores, 0);
    result.cpu = { stack, byKind, others: Math.max(0, (busy1 - busy0) / result.elapsedS - stack) };
  }
  return result;
}

const running = (deadline: bigint) => !stop.requested && now() < deadline;

// ---- phase 1: checkout over HTTP ------------------------------------------------------------

interface CheckoutStats {
  createOrder: Samples;
  addLine: Samples;
  pay: Samples;
  checkout: Samples;
  /** executeUpdate('addLine') as the API itself makes it (timed inside the API process). */
  serverAddLineUpdate: Samples;
  /** Workflow ids of the checkouts completed, in order (their histories are counted afterwards). */
  workflowIds: string[];
}

const newCheckoutStats = (): CheckoutStats => ({
  createOrder: new Samples(),
  addLine: new Samples(),
  pay: new Samples(),
  checkout: new Samples(),
  serverAddLineUpdate: new Samples(),
  workflowIds: [],
});

/** Where the API's cart updates are timed: the route calls getHandle(...).executeUpdate(addLine). */
let serverUpdateSink: Samples | undefined;

function instrumentServerUpdates(h: Harness): void {
  const workflow = h.deps.temporal.workflow;
  const getHandle = workflow.getHandle.bind(workflow);
  // Only this process's Client object is wrapped (no source file changes): it times what
  // api/order-service.ts updateOrder() waits for, i.e. the Temporal round trip without HTTP,
  // auth, validation or the catalog lookup.
  (workflow as { getHandle: typeof getHandle }).getHandle = ((...args: Parameters<typeof getHandle>) => {
    const handle = getHandle(...args);
    const executeUpdate = handle.executeUpdate.bind(handle);
    handle.executeUpdate = (async (
      def: Parameters<typeof executeUpdate>[0],
      opts?: Parameters<typeof executeUpdate>[1],
    ) => {
      const name = typeof def === 'string' ? def : def.name;
      if (name !== 'addLine' || !serverUpdateSink) return executeUpdate(def, opts as never);
      const sink = serverUpdateSink;
      const t0 = now();
      const out = await executeUpdate(def, opts as never);
      sink.add(msSince(t0));
      return out;
    }) as typeof handle.executeUpdate;
    return handle;
  }) as typeof getHandle;
}

async function checkoutPhase(
  h: Harness,
  tokens: string[],
  seconds: number,
): Promise<{ stats: CheckoutStats; result: PhaseResult }> {
  const { items, modifiers } = h.shop;
  const lines = [
    { itemId: items['Croissant'], quantity: 1 },
    { itemId: items['Burger'], quantity: 1 },
    { itemId: items['Espresso'], quantity: 1, modifierIds: [modifiers['Regular']] },
  ];
  for (const l of lines) if (!l.itemId) throw new Error('seeded demo shop lacks Croissant/Burger/Espresso');
  const stats = newCheckoutStats();
  serverUpdateSink = stats.serverAddLineUpdate;
  const result = await runClients(tokens.length, seconds, async (client, deadline, fail) => {
    const token = tokens[client];
    checkouts: while (running(deadline)) {
      const tCheckout = now();
      let t = now();
      const created = await h.api('POST', '/api/v1/orders', { token, body: { type: 'takeaway' } });
      if (created.status !== 201) {
        await fail(`create order: ${created.status} ${JSON.stringify(created.body)}`);
        continue;
      }
      stats.createOrder.add(msSince(t));
      const id: string = created.body.id;
      let balance = 0;
      for (const line of lines) {
        t = now();
        const res = await h.api('POST', `/api/v1/orders/${id}/lines`, { token, body: line });
        if (res.status !== 200) {
          await fail(`add line: ${res.status} ${JSON.stringify(res.body)}`);
          continue checkouts;
        }
        stats.addLine.add(msSince(t));
        balance = res.body.totals.balance;
      }
      t = now();
      const paid = await postPayment(h, token, id, { method: 'cash', amount: balance, tendered: balance });
      if (paid.status !== 201 || paid.body?.order?.status !== 'closed') {
        await fail(`pay: ${paid.status} ${JSON.stringify(paid.body)}`);
        continue;
      }
      stats.pay.add(msSince(t));
      stats.checkout.add(msSince(tCheckout));
      stats.workflowIds.push(`order-${id}`);
    }
  });
  serverUpdateSink = undefined;
  return { stats, result };
}

// ---- phase 2: floor (bare Temporal Update on a no-op workflow) -----------------------------

async function floorPhase(
  h: Harness,
  clients: number,
  seconds: number,
  label: string,
): Promise<{ samples: Samples; result: PhaseResult; workflowIds: string[] }> {
  const samples = new Samples();
  const workflowIds: string[] = [];
  const client = h.deps.temporal;
  const runId = randomUUID().slice(0, 8);
  const result = await runClients(clients, seconds, async (i, deadline, fail) => {
    let generation = 0;
    let handle: WorkflowHandle<typeof benchNoop> | undefined;
    let sent = 0;
    try {
      while (running(deadline)) {
        if (!handle || sent >= UPDATES_PER_NOOP_WORKFLOW) {
          if (handle) await handle.signal(benchDoneSignal);
          generation += 1;
          const workflowId = `bench-noop-${label}-${runId}-${i}-${generation}`;
          workflowIds.push(workflowId);
          handle = await client.workflow.start<typeof benchNoop>('benchNoop', {
            workflowId,
            taskQueue: h.taskQueue,
            args: [],
          });
          sent = 0;
        }
        const t0 = now();
        let value: number;
        try {
          value = await handle.executeUpdate(benchBumpUpdate);
        } catch (err) {
          await fail(`bump: ${(err as Error).message}`);
          handle = undefined; // start over on a fresh workflow
          continue;
        }
        samples.add(msSince(t0));
        sent += 1;
        if (value !== sent) await fail(`bump returned ${value}, expected ${sent}`);
      }
    } finally {
      await handle?.signal(benchDoneSignal).catch(() => undefined);
    }
  });
  return { samples, result, workflowIds };
}

// ---- phase 3: CRUD baseline (plain Postgres transaction) -----------------------------------

async function crudPhase(
  h: Harness,
  knex: Knex,
  orderIds: string[],
  seconds: number,
): Promise<{ samples: Samples; result: PhaseResult }> {
  const samples = new Samples();
  const catalog = [
    { name: 'Croissant', price: 325 },
    { name: 'Burger', price: 1150 },
    { name: 'Espresso', price: 300 },
  ].map((c) => ({ ...c, itemId: h.shop.items[c.name] }));
  const taxRate = 800; // basis points, as seeded
  const result = await runClients(orderIds.length, seconds, async (i, deadline, fail) => {
    const orderId = orderIds[i];
    let n = 0;
    while (running(deadline)) {
      const line = catalog[n % catalog.length];
      const tax = Math.round((line.price * taxRate) / 10_000);
      const t0 = now();
      try {
        await knex.transaction(async (trx) => {
          const [row] = await trx('orders')
            .where({ id: orderId })
            .update({
              subtotal: trx.raw('subtotal + ?', [line.price]),
              tax: trx.raw('tax + ?', [tax]),
              total: trx.raw('total + ?', [line.price + tax]),
              version: trx.raw('version + 1'),
              updated_at: trx.fn.now(),
            })
            .returning(['version']);
          if (!row) throw new Error(`bench order ${orderId} is gone`);
          await trx('order_lines').insert({
            id: randomUUID(),
            location_id: h.shop.locationId,
            order_id: orderId,
            item_id: line.itemId,
            name: line.name,
            quantity: 1,
            unit_price: line.price,
            total: line.price,
            position: row.version,
          });
        });
      } catch (err) {
        await fail(`crud tx: ${(err as Error).message}`);
        continue;
      }
      samples.add(msSince(t0));
      n += 1;
    }
  });
  return { samples, result };
}

async function createBenchOrders(h: Harness, knex: Knex, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  const at = new Date().toISOString();
  await knex('orders').insert(
    ids.map((id) => ({
      id,
      location_id: h.shop.locationId,
      status: 'cancelled', // never shows up as an open order in lists while the bench runs
      kitchen_status: 'not_sent',
      type: 'takeaway',
      currency: 'USD',
      version: 0,
      snapshot: JSON.stringify({ bench: true }),
      cancel_reason: 'bench/checkout.ts CRUD baseline',
      created_at: at,
      updated_at: at,
    })),
  );
  return ids;
}

// ---- Temporal actions per checkout (counted from the dev server's histories) ---------------

/** What one workflow history cost the server: the figures Temporal's pricing and capacity follow. */
interface ActionCounts {
  workflowTasks: number;
  activities: number;
  localActivities: number;
  updates: number;
  signals: number;
  timers: number;
  searchAttributeUpserts: number;
  childWorkflows: number;
  historyEvents: number;
  /** The history's size as the server stores it (protobuf): payloads are most of it. */
  historyKiB: number;
}

const ACTION_KINDS: Array<[keyof ActionCounts, string]> = [
  ['workflowTasks', 'workflow tasks'],
  ['activities', 'activities'],
  ['localActivities', 'local activities'],
  ['updates', 'Updates'],
  ['signals', 'signals'],
  ['timers', 'timers'],
  ['searchAttributeUpserts', 'search-attribute upserts'],
  ['childWorkflows', 'child workflows'],
  ['historyEvents', 'history events'],
  ['historyKiB', 'history KiB'],
];

const emptyCounts = (): ActionCounts =>
  Object.fromEntries(ACTION_KINDS.map(([k]) => [k, 0])) as unknown as ActionCounts;

/** Event type names as the client's protobufs spell them (numeric enum or string). */
function countEvents(
  events: Array<{ eventType?: unknown; markerRecordedEventAttributes?: { markerName?: string | null } | null }>,
): ActionCounts {
  const c = emptyCounts();
  c.historyEvents = events.length;
  for (const e of events) {
    c.historyKiB += encodedBytes(e) / 1024;
    const type = typeof e.eventType === 'string' ? e.eventType : (EVENT_TYPE_NAMES[Number(e.eventType)] ?? '');
    if (type.endsWith('WORKFLOW_TASK_COMPLETED')) c.workflowTasks += 1;
    else if (type.endsWith('ACTIVITY_TASK_SCHEDULED')) c.activities += 1;
    else if (type.endsWith('MARKER_RECORDED') && e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
      c.localActivities += 1;
    else if (type.endsWith('WORKFLOW_EXECUTION_UPDATE_ACCEPTED')) c.updates += 1;
    else if (type.endsWith('WORKFLOW_EXECUTION_SIGNALED')) c.signals += 1;
    else if (type.endsWith('TIMER_STARTED')) c.timers += 1;
    else if (type.endsWith('UPSERT_WORKFLOW_SEARCH_ATTRIBUTES')) c.searchAttributeUpserts += 1;
    else if (type.endsWith('START_CHILD_WORKFLOW_EXECUTION_INITIATED')) c.childWorkflows += 1;
  }
  return c;
}

let EVENT_TYPE_NAMES: Record<number, string> = {};
let encodedBytes: (event: object) => number = () => NaN;

interface ActionTally {
  workflows: number;
  total: ActionCounts;
}

/**
 * A workflow's history once it has stopped growing for a second: its side effects (persist,
 * publish) are part of a checkout's cost, but a paid takeaway order stays open for the
 * kitchen's bump, so "ended" is not the signal.
 */
async function settledHistory(h: Harness, workflowId: string): Promise<Array<never>> {
  const handle = h.deps.temporal.workflow.getHandle(workflowId);
  const events = async () => ((await handle.fetchHistory()).events ?? []) as never[];
  let last = await events();
  for (let stableMs = 0, waitedMs = 0; stableMs < 1000 && waitedMs < 30_000; waitedMs += 200) {
    await sleep(200);
    const next = await events();
    stableMs = next.length === last.length ? stableMs + 200 : 0;
    last = next;
  }
  return last;
}

/** Sums the actions of up to `limit` of the given workflows, each waited for until it ends. */
async function tallyActions(h: Harness, workflowIds: string[], limit = 20): Promise<ActionTally> {
  const { temporal } = await import('@temporalio/proto');
  EVENT_TYPE_NAMES = Object.fromEntries(
    Object.entries(temporal.api.enums.v1.EventType).map(([name, n]) => [n as number, name]),
  );
  const { HistoryEvent } = temporal.api.history.v1;
  encodedBytes = (e) => HistoryEvent.encode(e as never).finish().length;
  const sample = workflowIds.slice(0, limit);
  const total = emptyCounts();
  const counted = await Promise.all(sample.map((id) => settledHistory(h, id).then(countEvents)));
  for (const c of counted) for (const [k] of ACTION_KINDS) total[k] += c[k];
  return { workflows: sample.length, total };
}

/** Per checkout (one order workflow each) against per floor Update (a no-op workflow answers many). */
function printActions(a: Report['actions']): { perCheckout: ActionCounts; perFloorUpdate: ActionCounts } {
  const per = (t: ActionTally, n: number) =>
    Object.fromEntries(ACTION_KINDS.map(([k]) => [k, n ? t.total[k] / n : NaN])) as unknown as ActionCounts;
  const perCheckout = per(a.checkout, a.checkout.workflows);
  const perFloorUpdate = per(a.floor, a.floor.total.updates);
  console.log(
    `Temporal work per checkout (mean of ${a.checkout.workflows} finished checkout histories) and per floor Update`,
  );
  for (const [k, label] of ACTION_KINDS) {
    console.log(
      `  ${pad(label, 26)} ${lpad(f(perCheckout[k], 2), 8)} per checkout ${lpad(f(perFloorUpdate[k], 2), 8)} per floor Update`,
    );
  }
  const server = (c: ActionCounts) => c.workflowTasks + c.activities + c.localActivities + c.updates;
  console.log(
    `  ${pad('tasks+activities+Updates', 26)} ${lpad(f(server(perCheckout), 2), 8)} per checkout ${lpad(f(server(perFloorUpdate), 2), 8)} per floor Update`,
  );
  return { perCheckout, perFloorUpdate };
}

// ---- report ---------------------------------------------------------------------------------

const f = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);

interface Report {
  checkout: { stats: CheckoutStats; result: PhaseResult };
  floor: { samples: Samples; result: PhaseResult };
  crud: { samples: Samples; result: PhaseResult };
  setupS: number;
  actions: { checkout: ActionTally; floor: ActionTally };
}

function printReport(r: Report): void {
  printLatencyTable(r);
  printCpu(r);
  const actions = printActions(r.actions);
  printRatiosAndTargets(r, actions);
  printPhaseErrors(r);
}

/** The latency and throughput of each measurement, one row each. */
function printLatencyTable(r: Report): void {
  const cs = r.checkout.stats;
  const checkoutsPerS = cs.checkout.count / r.checkout.result.elapsedS;
  const updatesPerS = r.floor.samples.count / r.floor.result.elapsedS;
  const txPerS = r.crud.samples.count / r.crud.result.elapsedS;
  const rows: Array<[string, Samples, string, number]> = [
    ['HTTP add-line (POST /orders/:id/lines)', cs.addLine, 'lines/s', cs.addLine.count / r.checkout.result.elapsedS],
    ['HTTP full checkout (open+3 lines+cash)', cs.checkout, 'checkouts/s', checkoutsPerS],
    ['  of which: open order (POST /orders)', cs.createOrder, '', NaN],
    ['  of which: cash payment (closes order)', cs.pay, '', NaN],
    ['  add-line executeUpdate inside the API', cs.serverAddLineUpdate, '', NaN],
    ['Floor: bare Temporal Update (no-op wf)', r.floor.samples, 'updates/s', updatesPerS],
    ['CRUD: Postgres tx (insert line+update)', r.crud.samples, 'tx/s', txPerS],
  ];
  const w = [41, 8, 9, 9, 9, 20];
  const line = '-'.repeat(w.reduce((a, b) => a + b, 0));
  console.log('');
  console.log(
    `Tillflow checkout bench (target ${TARGET}): ${TERMINALS} terminals/clients, ${SECONDS} s per phase after ${WARMUP_SECONDS} s warm-up; node ${process.version}, ${os.cpus().length} CPU(s); stack up in ${f(r.setupS)} s`,
  );
  console.log(line);
  console.log(
    pad('measurement', w[0]) +
      lpad('n', w[1]) +
      lpad('p50 ms', w[2]) +
      lpad('p99 ms', w[3]) +
      lpad('max ms', w[4]) +
      lpad('throughput', w[5]),
  );
  console.log(line);
  for (const [name, s, unit, rate] of rows) {
    const tp = Number.isFinite(rate) ? `${f(rate)} ${unit}` : '';
    console.log(
      pad(name, w[0]) +
        lpad(String(s.count), w[1]) +
        lpad(f(s.percentile(50)), w[2]) +
        lpad(f(s.percentile(99)), w[3]) +
        lpad(f(s.max), w[4]) +
        lpad(tp, w[5]),
    );
  }
  console.log(line);
}

/** CPU cores each phase kept busy. */
function printCpu(r: Report): void {
  const cpuOf = (res: PhaseResult) =>
    res.cpu
      ? `stack ${f(res.cpu.stack, 2)} (${res.cpu.byKind.map(([k, c]) => `${k} ${f(c, 2)}`).join(', ')}) + other processes ${f(res.cpu.others, 2)}`
      : 'n/a';
  console.log(`CPU cores busy on average (machine has ${os.cpus().length}):`);
  console.log(`  checkout  ${cpuOf(r.checkout.result)}`);
  console.log(`  floor     ${cpuOf(r.floor.result)}`);
  console.log(`  CRUD      ${cpuOf(r.crud.result)}`);
}

/** The add-line ratios to the floor and CRUD baselines, and the (informational) targets. */
function printRatiosAndTargets(r: Report, actions: ReturnType<typeof printActions>): void {
  const cs = r.checkout.stats;
  const checkoutsPerS = cs.checkout.count / r.checkout.result.elapsedS;
  const addP50 = cs.addLine.percentile(50);
  const addP99 = cs.addLine.percentile(99);
  const floorP50 = r.floor.samples.percentile(50);
  const floorP99 = r.floor.samples.percentile(99);
  const crudP50 = r.crud.samples.percentile(50);
  console.log('Ratios');
  console.log(`  add-line p50 / floor p50   ${lpad(f(addP50 / floorP50, 2), 8)} x`);
  console.log(`  add-line p99 / floor p99   ${lpad(f(addP99 / floorP99, 2), 8)} x`);
  console.log(`  add-line p50 / CRUD p50    ${lpad(f(addP50 / crudP50, 2), 8)} x`);
  console.log('Targets (informational)');
  const at10 = TERMINALS === 10 ? '' : ` (measured at ${TERMINALS} terminals, not 10)`;
  const target = (ok: boolean, text: string, measured: string) =>
    console.log(`  [${ok ? 'PASS' : 'MISS'}] ${pad(text, 40)} measured ${measured}`);
  const openP50 = cs.createOrder.percentile(50);
  const payP50 = cs.pay.percentile(50);
  target(
    addP50 <= 1.5 * floorP50,
    'add-line p50 <= 1.5x floor p50',
    `${f(addP50)} ms vs ${f(1.5 * floorP50)} ms (1.5 x ${f(floorP50)})${at10}`,
  );
  target(
    addP99 <= 2 * floorP99,
    'add-line p99 <= 2x floor p99',
    `${f(addP99)} ms vs ${f(2 * floorP99)} ms (2 x ${f(floorP99)})`,
  );
  target(openP50 <= 2 * floorP50, 'open order p50 <= 2x floor p50', `${f(openP50)} ms vs ${f(2 * floorP50)} ms`);
  target(payP50 <= 2 * floorP50, 'cash payment p50 <= 2x floor p50', `${f(payP50)} ms vs ${f(2 * floorP50)} ms`);
  target(checkoutsPerS >= 25, '>= 25 checkouts/s', `${f(checkoutsPerS)} checkouts/s`);
  const server =
    actions.perCheckout.workflowTasks +
    actions.perCheckout.activities +
    actions.perCheckout.localActivities +
    actions.perCheckout.updates;
  target(
    server <= BASELINE_ACTIONS_PER_CHECKOUT / 2,
    `actions/checkout <= half of ${BASELINE_ACTIONS_PER_CHECKOUT}`,
    `${f(server, 2)} (tasks+activities+Updates)`,
  );
}

/** Each phase's errors, with their samples. */
function printPhaseErrors(r: Report): void {
  const phases: Array<[string, PhaseResult]> = [
    ['checkout', r.checkout.result],
    ['floor', r.floor.result],
    ['crud', r.crud.result],
  ];
  for (const [name, res] of phases) {
    if (res.errors) {
      console.log(`Errors in ${name} phase: ${res.errors}`);
      for (const e of res.errorSamples) console.log(`  ${e}`);
    }
  }
}

/** The run's figures as JSON under bench/results/ (not committed: numbers belong to a machine and a day). */
function writeResult(r: Report): void {
  const stats = (x: Samples) => ({ n: x.count, p50: x.percentile(50), p99: x.percentile(99), max: x.max });
  const cs = r.checkout.stats;
  const result = {
    at: new Date().toISOString(),
    target: TARGET,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
    terminals: TERMINALS,
    seconds: SECONDS,
    addLine: stats(cs.addLine),
    checkout: { ...stats(cs.checkout), perSecond: cs.checkout.count / r.checkout.result.elapsedS },
    openOrder: stats(cs.createOrder),
    cashPayment: stats(cs.pay),
    floor: { ...stats(r.floor.samples), perSecond: r.floor.samples.count / r.floor.result.elapsedS },
    crud: stats(r.crud.samples),
    actions: r.actions,
    cpu: { checkout: r.checkout.result.cpu, floor: r.floor.result.cpu, crud: r.crud.result.cpu },
  };
  const dir = `${__dirname}/results`;
  fs.mkdirSync(dir, { recursive: true });
  const file = `${dir}/checkout-${result.at.replace(/[:.]/g, '-')}.json`;
  fs.writeFileSync(file, JSON.stringify(result, null, 2));
  console.log(`Result written to ${file}`);
  printBesideOtherTarget(dir, result);
}

type Result = {
  at: string;
  target?: string;
  addLine: Stat;
  openOrder: Stat;
  cashPayment: Stat;
  floor: Stat & { perSecond: number };
  checkout: Stat & { perSecond: number };
};
type Stat = { p50: number; p99: number };

/** This run beside the newest run against the other target on this machine, when there is one. */
function printBesideOtherTarget(dir: string, current: Result): void {
  const other = TARGET === 'cluster' ? 'dev' : 'cluster';
  const previous = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('checkout-') && f.endsWith('.json'))
    .sort()
    .reverse()
    .map((f) => JSON.parse(fs.readFileSync(`${dir}/${f}`, 'utf8')) as Result)
    .find((r) => (r.target ?? 'dev') === other);
  if (!previous) {
    console.log(`(no earlier ${other} run in ${dir}: run BENCH_TARGET=${other} to see both side by side)`);
    return;
  }
  const rows: Array<[string, (r: Result) => number, string]> = [
    ['floor Update p50', (r) => r.floor.p50, 'ms'],
    ['add-line p50', (r) => r.addLine.p50, 'ms'],
    ['add-line p99', (r) => r.addLine.p99, 'ms'],
    ['open order p50', (r) => r.openOrder.p50, 'ms'],
    ['cash payment p50', (r) => r.cashPayment.p50, 'ms'],
    ['checkouts/s', (r) => r.checkout.perSecond, ''],
  ];
  console.log(`Beside the ${other} run of ${previous.at}:`);
  console.log(`  ${pad('', 22)}${lpad(TARGET, 12)}${lpad(other, 12)}`);
  for (const [label, get, unit] of rows)
    console.log(
      `  ${pad(label, 22)}${lpad(`${f(get(current))} ${unit}`, 12)}${lpad(`${f(get(previous))} ${unit}`, 12)}`,
    );
}

// ---- main -----------------------------------------------------------------------------------

async function main(): Promise<number> {
  // Before the stack's modules load: the logger picks its level (warn) from NODE_ENV at import.
  process.env.NODE_ENV = 'test';
  const { default: globalSetup } = await import('../test/support/global-setup');
  const { default: globalTeardown } = await import('../test/support/global-teardown');
  const { startHarness } = await import('../test/support/harness');
  const { createKnex } = await import('../db/knex');

  installStopSignals();
  const log = (m: string) => console.error(`[bench] ${m}`);
  const stack: BenchStack = { crudOrderIds: [] };
  let report: Report | undefined;
  let failed = false;
  const t0 = now();
  try {
    if (TARGET === 'cluster')
      stack.stopCluster = await (await import('../cluster/bench-target')).startBenchCluster(log);
    log(`starting the stack (target ${TARGET}), bundling workflows …`);
    await globalSetup();
    const h = await startHarness(WORKER === 'process' ? { centralWorker: false } : {});
    stack.h = h;
    if (WORKER === 'process') {
      const { startWorkerProcess } = await import('../test/support/worker-process');
      stack.workerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-bench-worker-'));
      await startWorkerProcess(h, stack.workerDir);
    }
    instrumentServerUpdates(h);
    // Tracked items stay tracked (each close deducts stock, a side effect the bench counts) but
    // never run out: a sold-out Croissant answers 409 (issue 13's "86") and ends the scenario.
    await h.deps.knex('items').where({ track_stock: true }).update({ stock_quantity: 10_000_000 });
    const tokens: string[] = [];
    for (let i = 0; i < TERMINALS; i++) tokens.push(await h.login(CASHIER_PIN));
    const setupS = msSince(t0) / 1000;
    log(`stack up in ${f(setupS)} s (API ${h.baseUrl}, task queue ${h.taskQueue})`);
    report = await measurePhases(h, tokens, setupS, stack, createKnex, log);
    if (stop.requested) failed = true;
    if (incomplete(report)) failed = true;
  } catch (err) {
    failed = true;
    console.error('[bench] the stack failed:', err);
  } finally {
    log('tearing down …');
    if (!(await tearDown(stack, globalTeardown))) failed = true;
  }
  if (report) {
    printReport(report);
    writeResult(report);
  }
  if (failed) console.log('\nResult: the stack FAILED (see errors above); exit code 1');
  return failed ? 1 : 0;
}

/** What the bench started and must take down again, filled in as it comes up. */
interface BenchStack {
  h?: Harness;
  crudKnex?: Knex;
  crudOrderIds: string[];
  stopCluster?: () => Promise<void>;
  /** The worker process's data directory (BENCH_WORKER=process). */
  workerDir?: string;
}

/** The three phases (each after its warm-up) and the Temporal actions they took. */
async function measurePhases(
  h: Harness,
  tokens: string[],
  setupS: number,
  stack: BenchStack,
  createKnex: (url: string, pool: { min: number; max: number }) => Knex,
  log: (m: string) => void,
): Promise<Report> {
  log(`phase 1/3 checkout over HTTP: warm-up ${WARMUP_SECONDS} s, then ${SECONDS} s with ${TERMINALS} terminals`);
  await checkoutPhase(h, tokens, WARMUP_SECONDS);
  const checkout = await checkoutPhase(h, tokens, SECONDS);

  log(
    `phase 2/3 floor (no-op workflow Update): warm-up ${WARMUP_SECONDS} s, then ${SECONDS} s with ${TERMINALS} clients`,
  );
  await floorPhase(h, TERMINALS, WARMUP_SECONDS, 'warmup');
  const floor = await floorPhase(h, TERMINALS, SECONDS, 'measure');

  log(
    `phase 3/3 CRUD baseline (Postgres tx): warm-up ${WARMUP_SECONDS} s, then ${SECONDS} s with ${TERMINALS} clients`,
  );
  const crudKnex = createKnex(h.databaseUrl, { min: 0, max: TERMINALS });
  stack.crudKnex = crudKnex;
  stack.crudOrderIds = await createBenchOrders(h, crudKnex, TERMINALS);
  await crudPhase(h, crudKnex, stack.crudOrderIds, WARMUP_SECONDS);
  const crud = await crudPhase(h, crudKnex, stack.crudOrderIds, SECONDS);

  log("counting Temporal actions from the finished workflows' histories …");
  const actions = {
    checkout: await tallyActions(h, checkout.stats.workflowIds),
    floor: await tallyActions(h, floor.workflowIds),
  };
  return { checkout, floor, crud, setupS, actions };
}

/** A phase had errors or a measurement has no samples. */
function incomplete(r: Report): boolean {
  const results = [r.checkout.result, r.floor.result, r.crud.result];
  if (results.some((res) => res.errors > 0)) return true;
  return (
    r.checkout.stats.addLine.count === 0 ||
    r.checkout.stats.checkout.count === 0 ||
    r.floor.samples.count === 0 ||
    r.crud.samples.count === 0
  );
}

/** Removes the CRUD rows, closes the harness and stops the stack; false when closing or stopping failed. */
async function tearDown(stack: BenchStack, globalTeardown: () => Promise<void>): Promise<boolean> {
  let ok = true;
  try {
    if (stack.crudKnex) {
      if (stack.crudOrderIds.length) await stack.crudKnex('orders').whereIn('id', stack.crudOrderIds).delete(); // lines cascade
      await stack.crudKnex.destroy();
    }
  } catch (err) {
    console.error('[bench] cleanup of the CRUD rows failed:', err);
  }
  if (stack.workerDir) {
    const { stopWorkerProcesses } = await import('../test/support/worker-process');
    await stopWorkerProcesses();
    fs.rmSync(stack.workerDir, { recursive: true, force: true });
  }
  try {
    await stack.h?.close();
  } catch (err) {
    ok = false;
    console.error('[bench] harness close failed:', err);
  }
  try {
    await globalTeardown();
    await stack.stopCluster?.();
  } catch (err) {
    ok = false;
    console.error('[bench] teardown failed:', err);
  }
  return ok;
}

// A hard ceiling well above what the phases need.
runBench(main, (8 * 60 + 3 * (SECONDS + WARMUP_SECONDS) * 3) * 1000);
