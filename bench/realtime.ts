/**
 * Real-time fan-out bench: `npm run bench:realtime` (issue 10). See bench/README.md.
 *
 * Brings the stack up as the tests do (embedded Postgres, Temporal dev server), starts 2 API
 * replicas and the central worker as their own processes (TILLFLOW_ROLE=api / worker, sharing the
 * database and Temporal; fan-out between the replicas is Postgres LISTEN/NOTIFY), so this process
 * runs only the clients. It connects WebSocket subscribers spread over both replicas to
 * `orders:<locationId>` and per-order `order:<id>` topics, and lets terminals run cash checkouts
 * over HTTP against the replicas. Two phases of the same load: 1 subscriber per replica (the
 * baseline), then BENCH_SUBSCRIBERS.
 *
 * The subscribers live in client threads (bench/realtime-clients.ts), the terminals and the books
 * in the main thread. Latency of an event = the moment a subscriber's socket delivered it minus
 * the moment the HTTP answer of the terminal's change that produced its version arrived (both on
 * this process's one clock, `clock()`). Beside it, the raw NOTIFY round trip between two Postgres
 * connections of the main thread, sampled during both phases.
 *
 * Env: BENCH_SUBSCRIBERS (1000), BENCH_TERMINALS (10), BENCH_SECONDS (20 per phase),
 *      BENCH_ORDER_WATCHERS (10: subscribers per terminal that also watch its current order),
 *      BENCH_CLIENT_THREADS (2: worker threads the subscribers are spread over).
 * Exit code 0 unless the stack failed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ChildProcess } from 'node:child_process';
import { freePort } from '../platform/processes';
import { Client as PgClient } from 'pg';
import type { Harness } from '../test/support/harness';
import { eventDataForTopic } from '../core/views';
import { EVENTS_CHANNEL } from '../core/events';
import { installStopSignals, runBench, stop } from './run';
import { clock, ClientThreads, http, type Arrival, type ThreadBooks } from './realtime-clients';

// ---- configuration --------------------------------------------------------------------------

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

const SUBSCRIBERS = Math.round(positiveNumber('BENCH_SUBSCRIBERS', 1000));
const TERMINALS = Math.round(positiveNumber('BENCH_TERMINALS', 10));
const SECONDS = positiveNumber('BENCH_SECONDS', 20);
const ORDER_WATCHERS = Math.round(positiveNumber('BENCH_ORDER_WATCHERS', 10));
const CLIENT_THREADS = Math.round(positiveNumber('BENCH_CLIENT_THREADS', 2));
const REPLICAS = 2;
/** After the terminals stop: how long events may still arrive before the books are closed. */
const SETTLE_MS = 3000;
const TARGET_P99_MS = 50;
const CASHIER_PIN = '3456';
const TOKEN_SECRET = 'test-secret-'.padEnd(40, 'x'); // the harness's (test/support/harness.ts)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (m: string) => console.error(`[bench] ${m}`);

/** Nearest-rank percentile (NaN when empty). */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
};

// ---- API replicas as processes ----------------------------------------------------------------

interface Replica {
  url: string;
  process: ChildProcess;
}

/** The servers under test, each its own process: the API replicas and the central worker. */
interface Servers {
  replicas: Replica[];
  /** Out of the bench process, so the clients' event loop measures arrivals and runs nothing else. */
  worker: ChildProcess;
}

async function startServers(h: Harness, dataDir: string): Promise<Servers> {
  const { startTillflowProcess } = await import('../cluster/replicas');
  const { TEST_LIMITS } = await import('../test/support/harness');
  const common = {
    ...TEST_LIMITS,
    NODE_ENV: 'test',
    DATABASE_URL: h.databaseUrl,
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: h.deps.config.temporalNamespace,
    TILLFLOW_TASK_QUEUE: h.taskQueue,
    TILLFLOW_TOKEN_SECRET: TOKEN_SECRET,
    TILLFLOW_SEED_DEMO: 'false',
    TILLFLOW_PAYMENTS_SANDBOX: 'false',
    TILLFLOW_MDNS: 'off',
  };
  const [worker, replicas] = await Promise.all([
    startTillflowProcess({ ...common, TILLFLOW_ROLE: 'worker', TILLFLOW_DATA_DIR: path.join(dataDir, 'worker') }),
    Promise.all(
      Array.from({ length: REPLICAS }, async (_, i): Promise<Replica> => {
        const port = await freePort();
        const child = await startTillflowProcess({
          ...common,
          TILLFLOW_ROLE: 'api',
          PORT: String(port),
          HOST: '127.0.0.1',
          TILLFLOW_DATA_DIR: path.join(dataDir, `replica-${i}`),
        });
        return { url: `http://127.0.0.1:${port}`, process: child };
      }),
    ),
  ]);
  return { worker, replicas };
}

/** Resident memory of a process in bytes (Linux), NaN elsewhere. */
function rssBytes(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds a process used so far (Linux), NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

// ---- the books: what terminals produced and what subscribers saw ------------------------------

/** Per order: the versions its terminal's answers carried, with the moment each answer arrived. */
const answers = new Map<string, Array<{ version: number; at: number }>>();

function recordAnswer(orderId: string, version: number, at: number): void {
  let list = answers.get(orderId);
  if (!list) answers.set(orderId, (list = []));
  list.push({ version, at });
}

/** The arrival of the first answer that carried this version or a newer one (undefined: none). */
function anchorOf(orderId: string, version: number): number | undefined {
  let best: number | undefined;
  for (const a of answers.get(orderId) ?? [])
    if (a.version >= version && (best === undefined || a.at < best)) best = a.at;
  return best;
}

/** When this process's own listener heard each event row's NOTIFY (`orderId:version`, first one). */
const notices = new Map<string, number>();
const noticeIds = new Map<number, number>();

function noticeOfEvents(payload: string, at: number): void {
  try {
    for (const id of (JSON.parse(payload) as { ids: number[] }).ids) noticeIds.set(id, at);
  } catch {
    /* not ours */
  }
}

// ---- terminals ------------------------------------------------------------------------------

interface TerminalStats {
  checkouts: number;
  changes: number;
  errors: string[];
}

/** An `order:` subscription of a watcher, checked up to the last version its terminal was answered. */
interface Watch {
  subscriber: number;
  topic: string;
  orderId: string;
  until: () => number;
}

/** One terminal: full cash checkouts against its replica; its watchers follow its current order. */
async function runTerminal(
  h: Harness,
  replica: Replica,
  token: string,
  clients: ClientThreads,
  watchers: number[],
  watches: Watch[],
  deadline: number,
  stats: TerminalStats,
): Promise<void> {
  const { items, modifiers } = h.shop;
  const lines = [
    { itemId: items['Croissant'], quantity: 1 },
    { itemId: items['Burger'], quantity: 1 },
    { itemId: items['Espresso'], quantity: 1, modifierIds: [modifiers['Regular']] },
  ];
  /** The order topic the watchers follow, and its last answered version. */
  let watched: { topic: string; until: () => number } | undefined;
  while (clock() < deadline && !stop.requested) {
    const created = await http(replica.url, 'POST', '/api/v1/orders', token, { type: 'takeaway' });
    if (created.status !== 201) {
      stats.errors.push(`open: ${created.status} ${JSON.stringify(created.body)}`.slice(0, 300));
      await sleep(200);
      continue;
    }
    const orderId: string = created.body.id;
    recordAnswer(orderId, created.body.version, clock());
    stats.changes++;
    if (watched) for (const w of watchers) clients.unwatch(w, watched.topic, watched.until());
    const topic = `order:${orderId}`;
    const last = { version: created.body.version as number };
    watched = { topic, until: () => last.version };
    for (const w of watchers) {
      clients.watch(w, topic);
      watches.push({ subscriber: w, topic, orderId, until: watched.until });
    }
    let balance = 0;
    for (const line of lines) {
      const res = await http(replica.url, 'POST', `/api/v1/orders/${orderId}/lines`, token, line);
      if (res.status !== 200) {
        stats.errors.push(`line: ${res.status} ${JSON.stringify(res.body)}`.slice(0, 300));
        break;
      }
      recordAnswer(orderId, (last.version = res.body.version), clock());
      stats.changes++;
      balance = res.body.totals.balance;
    }
    const cash = { method: 'cash', amount: balance, tendered: balance };
    const paid = await http(replica.url, 'POST', `/api/v1/orders/${orderId}/payments`, token, cash, randomUUID());
    if (paid.status !== 201 || paid.body?.order?.status !== 'closed') {
      stats.errors.push(`pay: ${paid.status} ${JSON.stringify(paid.body)}`.slice(0, 300));
      continue;
    }
    recordAnswer(orderId, (last.version = paid.body.order.version), clock());
    stats.changes++;
    stats.checkouts++;
  }
}

// ---- baseline: raw NOTIFY round trip ----------------------------------------------------------

/** Sends a NOTIFY every 100 ms from one connection and times its arrival on another. */
async function notifyProbe(databaseUrl: string) {
  const listener = new PgClient({ connectionString: databaseUrl });
  const sender = new PgClient({ connectionString: databaseUrl });
  await Promise.all([listener.connect(), sender.connect()]);
  const channel = 'bench_realtime_probe';
  await listener.query(`LISTEN ${channel}`);
  await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
  let samples: number[] = [];
  listener.on('notification', (n) => {
    if (n.channel === channel) samples.push(clock() - Number(n.payload));
    else if (n.payload) noticeOfEvents(n.payload, clock());
  });
  let active = true;
  const loop = (async () => {
    while (active) {
      await sender.query('select pg_notify($1, $2)', [channel, String(clock())]).catch(() => undefined);
      await sleep(100);
    }
  })();
  return {
    take(): number[] {
      const out = samples;
      samples = [];
      return out;
    },
    async stop(): Promise<void> {
      active = false;
      await loop;
      await Promise.all([listener.end(), sender.end()]);
    },
  };
}

// ---- a phase ----------------------------------------------------------------------------------

interface PhaseReport {
  subscribers: number;
  seconds: number;
  checkouts: number;
  changes: number;
  errors: string[];
  latency: ReturnType<typeof summary>;
  /** From the answer to the NOTIFY reaching this process (the API's publishing transaction). */
  publish: ReturnType<typeof summary>;
  /** From the NOTIFY reaching this process to the socket delivering the event (the hub's part). */
  fanOut: ReturnType<typeof summary>;
  /** Events that arrived before the answer of the change that produced them (counted as such in latency). */
  beforeAnswer: number;
  /** Events of versions no terminal answer carried (e.g. published later by the workflow). */
  unanchored: number;
  expected: number;
  lost: number;
  gapSnapshots: number;
  gaps: number;
  outOfOrder: number;
  staleAfterSnapshot: number;
  duplicates: number;
  noSnapshot: number;
  notify: ReturnType<typeof summary>;
  replicaCpuCores: number[];
  workerCpuCores: number;
  /** The client threads' event-loop delay p99 (ms, the worst thread): how late they may have noticed arrivals. */
  clientsLoopDelayP99: number;
  /** The terminals' (main thread's) event-loop delay p99 (ms): how late it may have noticed answers. */
  terminalsLoopDelayP99: number;
}

async function runPhase(
  h: Harness,
  { replicas, worker }: Servers,
  tokens: string[],
  clients: ClientThreads,
  subscribers: number,
  probe: Awaited<ReturnType<typeof notifyProbe>>,
): Promise<PhaseReport> {
  const startId = Number((await h.deps.knex('order_events').max('id as m').first())?.m ?? 0);
  await clients.start();
  answers.clear();
  noticeIds.clear();
  notices.clear();
  probe.take();
  const cpu0 = replicas.map((r) => cpuSeconds(r.process.pid));
  const workerCpu0 = cpuSeconds(worker.pid);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const t0 = clock();
  const deadline = t0 + SECONDS * 1000;
  const stats: TerminalStats = { checkouts: 0, changes: 0, errors: [] };
  const watches: Watch[] = [];
  const watchersOf = (t: number) =>
    Array.from({ length: subscribers }, (_, i) => i)
      .filter((i) => i % TERMINALS === t)
      .slice(0, ORDER_WATCHERS);
  await Promise.all(
    Array.from({ length: TERMINALS }, (_, t) =>
      runTerminal(
        h,
        replicas[t % replicas.length],
        tokens[t % tokens.length],
        clients,
        watchersOf(t),
        watches,
        deadline,
        stats,
      ),
    ),
  );
  const elapsed = (clock() - t0) / 1000;
  const replicaCpuCores = replicas.map((r, i) => (cpuSeconds(r.process.pid) - cpu0[i]) / elapsed);
  const workerCpuCores = (cpuSeconds(worker.pid) - workerCpu0) / elapsed;
  loopDelay.disable();
  const terminalsLoopDelayP99 = loopDelay.percentile(99) / 1e6;
  await sleep(SETTLE_MS);
  const maxId = Number((await h.deps.knex('order_events').max('id as m').first())?.m ?? 0);
  await sleep(SETTLE_MS); // events up to maxId may still be on their way
  const notify = summary(probe.take());
  const books = await clients.end();
  const tally = await tallyBooks(h, books, watches, startId, maxId);
  return {
    subscribers,
    seconds: elapsed,
    ...stats,
    ...tally,
    notify,
    replicaCpuCores,
    workerCpuCores,
    clientsLoopDelayP99: Math.max(...books.map((b) => b.loopDelayP99)),
    terminalsLoopDelayP99,
  };
}

/** Latency of every arrival, and each subscription checked against the events in the database. */
async function tallyBooks(h: Harness, books: ThreadBooks[], watches: Watch[], startId: number, maxId: number) {
  const rows: Array<{ id: string; order_id: string; version: number; event: string; topics: string[]; data: unknown }> =
    await h.deps
      .knex('order_events')
      .where('id', '>', startId)
      .andWhere('id', '<=', maxId)
      .select('id', 'order_id', 'version', 'event', 'topics', 'data');
  for (const r of rows) {
    const at = noticeIds.get(Number(r.id));
    const key = `${r.order_id}:${r.version}`;
    if (at !== undefined && !(at >= (notices.get(key) ?? Infinity))) notices.set(key, at);
  }
  const byTopic = new Map<string, typeof rows>();
  for (const r of rows)
    for (const t of r.topics) {
      if (eventDataForTopic(t, r.event, r.data) === undefined) continue;
      const list = byTopic.get(t) ?? [];
      list.push(r);
      byTopic.set(t, list);
    }
  const untilOf = new Map(watches.map((w) => [`${w.subscriber}|${w.topic}`, w.until]));
  let expected = 0;
  let lost = 0;
  let gapSnapshots = 0;
  let noSnapshot = 0;
  for (const sub of books.flatMap((b) => b.subscriptions)) {
    if (sub.base < 0) {
      noSnapshot++;
      continue;
    }
    const until = untilOf.get(`${sub.subscriber}|${sub.topic}`)?.() ?? Infinity;
    const received = new Set(sub.received);
    const gapSnapshot = new Map(sub.gapSnapshots);
    for (const r of byTopic.get(sub.topic) ?? []) {
      if (r.version <= sub.base || r.version > until) continue;
      expected++;
      if (received.has(`${r.order_id}:${r.version}:${r.event}`)) continue;
      if ((gapSnapshot.get(r.order_id) ?? -1) >= r.version) gapSnapshots++;
      else lost++;
    }
  }
  const sum = (of: (b: ThreadBooks) => number) => books.reduce((n, b) => n + of(b), 0);
  return {
    ...latencyOf(books.flatMap((b) => b.arrivals)),
    expected,
    lost,
    gapSnapshots,
    gaps: sum((b) => b.gaps),
    outOfOrder: sum((b) => b.outOfOrder),
    staleAfterSnapshot: sum((b) => b.staleAfterSnapshot),
    duplicates: sum((b) => b.duplicates),
    noSnapshot,
  };
}

/** Each arrival against its change's answer, split at the moment this process heard the NOTIFY. */
function latencyOf(arrivals: Arrival[]) {
  const latencies: number[] = [];
  const publish: number[] = [];
  const fanOut: number[] = [];
  let beforeAnswer = 0;
  let unanchored = 0;
  for (const a of arrivals) {
    const anchor = anchorOf(a.orderId, a.version);
    const notice = notices.get(`${a.orderId}:${a.version}`);
    if (notice !== undefined) fanOut.push(a.at - notice);
    if (anchor === undefined) unanchored++;
    else {
      if (a.at < anchor) beforeAnswer++;
      latencies.push(a.at - anchor);
      if (notice !== undefined) publish.push(notice - anchor);
    }
  }
  return { latency: summary(latencies), publish: summary(publish), fanOut: summary(fanOut), beforeAnswer, unanchored };
}

// ---- report -----------------------------------------------------------------------------------

interface Report {
  baseline: PhaseReport;
  loaded: PhaseReport;
  memory: { rssBeforeMiB: number[]; rssAfterMiB: number[]; bytesPerConnection: number };
  setupS: number;
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

function printPhase(name: string, p: PhaseReport): void {
  console.log(`\n${name}: ${p.subscribers} subscriber(s), ${TERMINALS} terminals, ${f(p.seconds)} s`);
  console.log(
    `  checkouts ${p.checkouts} (${f(p.checkouts / p.seconds)}/s), changes ${p.changes}, terminal errors ${p.errors.length}`,
  );
  console.log(
    `  event-to-client latency ms: p50 ${f(p.latency.p50)}  p99 ${f(p.latency.p99)}  max ${f(p.latency.max)}  (n ${p.latency.n}; ${p.beforeAnswer} arrived before the answer, ${p.unanchored} of versions no answer carried)`,
  );
  const part = (x: ReturnType<typeof summary>) => `p50 ${f(x.p50)}  p99 ${f(x.p99)}  max ${f(x.max)}`;
  console.log(`    of which answer -> NOTIFY heard here: ${part(p.publish)};  NOTIFY -> socket: ${part(p.fanOut)}`);
  console.log(
    `  raw NOTIFY round trip ms: p50 ${f(p.notify.p50)}  p99 ${f(p.notify.p99)}  max ${f(p.notify.max)}  (n ${p.notify.n})`,
  );
  console.log(
    `  deliveries expected ${p.expected}: lost ${p.lost}, recovered by a snapshot after a gap ${p.gapSnapshots} (gaps seen ${p.gaps}), out of order ${p.outOfOrder}, older than the snapshot before them ${p.staleAfterSnapshot}, duplicates ${p.duplicates}, order subscriptions without a snapshot ${p.noSnapshot}`,
  );
  console.log(
    `  API replica CPU (cores): ${p.replicaCpuCores.map((c) => f(c, 2)).join(', ')}; worker ${f(p.workerCpuCores, 2)}; event-loop delay p99: clients ${f(p.clientsLoopDelayP99)} ms (worst of ${CLIENT_THREADS} threads), terminals ${f(p.terminalsLoopDelayP99)} ms; load average ${os
      .loadavg()
      .map((x) => f(x))
      .join(' ')}`,
  );
  for (const e of p.errors.slice(0, 5)) console.log(`  error: ${e}`);
}

function printReport(r: Report): void {
  console.log(
    `\nTillflow real-time bench: ${REPLICAS} API replicas, node ${process.version}, ${os.cpus().length} CPU(s); stack up in ${f(r.setupS)} s`,
  );
  printPhase('Baseline', r.baseline);
  printPhase('Loaded', r.loaded);
  const m = r.memory;
  console.log(
    `\nMemory: replica RSS ${m.rssBeforeMiB.map((x) => f(x)).join(' / ')} MiB -> ${m.rssAfterMiB.map((x) => f(x)).join(' / ')} MiB with ${SUBSCRIBERS} sockets: ${f(m.bytesPerConnection / 1024)} KiB per connection`,
  );
  const { loaded: l, baseline: b } = r;
  console.log(
    `Ratios: p99 loaded / baseline ${f(l.latency.p99 / b.latency.p99, 2)}x, p50 ${f(l.latency.p50 / b.latency.p50, 2)}x; loaded p99 / NOTIFY p99 ${f(l.latency.p99 / l.notify.p99, 2)}x`,
  );
  const check = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  console.log(`Target (issue 10, ${SUBSCRIBERS} subscribers):`);
  console.log(`  p99 <= ${TARGET_P99_MS} ms: ${f(l.latency.p99)} ms  ${check(l.latency.p99 <= TARGET_P99_MS)}`);
  console.log(`  lost 0: ${l.lost}  ${check(l.lost === 0)}`);
  console.log(`  out of order 0: ${l.outOfOrder}  ${check(l.outOfOrder === 0)}`);
}

function writeResult(r: Report): void {
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const at = new Date().toISOString();
  const file = path.join(dir, `realtime-${at.replace(/[:.]/g, '-')}.json`);
  const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version };
  const config = {
    subscribers: SUBSCRIBERS,
    terminals: TERMINALS,
    seconds: SECONDS,
    orderWatchers: ORDER_WATCHERS,
    clientThreads: CLIENT_THREADS,
  };
  fs.writeFileSync(file, JSON.stringify({ at, machine, config, ...r }, null, 2));
  console.log(`\nResult written to ${path.relative(process.cwd(), file)}`);
}

// ---- main -------------------------------------------------------------------------------------

async function measure(h: Harness, servers: Servers, setupS: number): Promise<Report> {
  const { replicas } = servers;
  const tokens: string[] = [];
  for (let i = 0; i < Math.max(TERMINALS, 20); i++) tokens.push(await h.login(CASHIER_PIN));
  const urls = replicas.map((r) => r.url);
  const topic = `orders:${h.shop.locationId}`;
  const probe = await notifyProbe(h.databaseUrl);
  const clients = ClientThreads.start(CLIENT_THREADS);
  try {
    log(`warm-up and baseline phase: 1 subscriber per replica, ${SECONDS} s`);
    await clients.connect(urls, tokens, REPLICAS, topic);
    const baseline = await runPhase(h, servers, tokens, clients, REPLICAS, probe);
    await clients.disconnect();
    await sleep(1000);
    const rssBefore = replicas.map((r) => rssBytes(r.process.pid));
    log(`connecting ${SUBSCRIBERS} subscribers over ${CLIENT_THREADS} client threads …`);
    await clients.connect(urls, tokens, SUBSCRIBERS, topic);
    await sleep(2000);
    const rssAfter = replicas.map((r) => rssBytes(r.process.pid));
    log(`loaded phase: ${SUBSCRIBERS} subscribers, ${SECONDS} s`);
    const loaded = await runPhase(h, servers, tokens, clients, SUBSCRIBERS, probe);
    await clients.disconnect();
    const mib = (b: number) => b / 1024 / 1024;
    const delta = rssAfter.reduce((a, b) => a + b, 0) - rssBefore.reduce((a, b) => a + b, 0);
    const memory = {
      rssBeforeMiB: rssBefore.map(mib),
      rssAfterMiB: rssAfter.map(mib),
      bytesPerConnection: delta / SUBSCRIBERS,
    };
    return { baseline, loaded, memory, setupS };
  } finally {
    await Promise.all([probe.stop(), clients.stop()]);
  }
}

async function main(): Promise<number> {
  process.env.NODE_ENV = 'test';
  const { default: globalSetup } = await import('../test/support/global-setup');
  const { default: globalTeardown } = await import('../test/support/global-teardown');
  const { startHarness } = await import('../test/support/harness');
  const { killTillflowProcesses } = await import('../cluster/replicas');
  installStopSignals();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-bench-realtime-'));
  let h: Harness | undefined;
  let report: Report | undefined;
  let failed = false;
  const t0 = clock();
  try {
    log('starting the stack, bundling workflows …');
    await globalSetup();
    h = await startHarness({ printingWorker: false, centralWorker: false });
    await h.deps.knex('items').where({ track_stock: true }).update({ stock_quantity: 10_000_000 });
    log('starting 2 API replicas and the worker as processes …');
    const servers = await startServers(h, dataDir);
    const setupS = (clock() - t0) / 1000;
    log(`stack up in ${f(setupS)} s (replicas ${servers.replicas.map((r) => r.url).join(', ')})`);
    report = await measure(h, servers, setupS);
    if (stop.requested || report.loaded.checkouts === 0 || report.loaded.latency.n === 0) failed = true;
  } catch (err) {
    failed = true;
    console.error('[bench] the stack failed:', err);
  } finally {
    log('tearing down …');
    await killTillflowProcesses().catch(() => undefined);
    await h?.close().catch((err) => ((failed = true), console.error('[bench] harness close failed:', err)));
    await globalTeardown().catch((err) => ((failed = true), console.error('[bench] teardown failed:', err)));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  if (report) {
    printReport(report);
    writeResult(report);
  }
  if (failed) console.log('\nResult: the stack FAILED (see errors above); exit code 1');
  return failed ? 1 : 0;
}

// A hard ceiling well above what the phases need.
runBench(main, (10 * 60 + 4 * SECONDS) * 1000);
