import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import { Client as PgClient } from 'pg';
import { Client, type Connection } from '@temporalio/client';
import { connectTemporalClient } from '../platform/temporal-client';
import { NativeConnection } from '@temporalio/worker';
import { Config, ConfigError, loadConfig } from '../platform/config';
import { logger as rootLogger, Logger } from '../platform/logger';
import { startEmbeddedPostgres, EmbeddedPostgresHandle } from '../platform/postgres';
import { loadDevServerConfig } from '../platform/temporal-dev-config';
import { ensureTemporalCli } from '../platform/temporal-cli';
import { startTemporalDevServer, DevServerHandle } from '../platform/temporal-server';
import { isAlive } from '../platform/processes';
import { Supervisor, type Restartable } from '../platform/supervisor';
import { bindModels, createKnex, migrateLatest } from '../db/knex';
import { DEMO_LOCATIONS, seedDemoShop, seedNairobiDemo } from '../db/seed';
import { pinLookup } from '../db/pins';
import { startApiServer, type ApiServer } from '../api/server';
import { setupPayments } from './payments';
import { startDiscovery } from '../platform/mdns';
import type { Gateways } from '../core/gateway';
import type { AppDeps } from '../api/types';
import { createCentralWorker, createPrintingWorker, installRuntime } from '../workers/worker';

/**
 * What one process runs. `all` (default) is the whole thing; `api` and `worker` let a deployment
 * scale HTTP replicas and worker replicas separately against shared Postgres and Temporal.
 */
export type LaunchRole = 'api' | 'worker' | 'all';

interface DevServerSetup {
  cliPath: string;
  cfg: ReturnType<typeof loadDevServerConfig>;
}

/** A startup problem a person must fix; the launcher prints its message, not a stack trace. */
export class LaunchError extends Error {}

/** Thrown out of `start()` when `stop()` was called while starting. */
export class LaunchAborted extends Error {
  constructor() {
    super('start-up aborted by shutdown');
  }
}

export interface LaunchOptions {
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Human-readable banner lines (URLs, demo PINs). Default: stdout. */
  print?: (line: string) => void;
  /** Called when a running component fails on its own (worker crash, HTTP server error, a child that cannot be restarted). */
  onFatal?: (err: Error) => void;
  /** Waits before each restart of a dead embedded Postgres or Temporal dev server (see platform/supervisor.ts). */
  restartBackoffMs?: number[];
}

export interface RunningTillflow {
  role: LaunchRole;
  config: Config;
  /** Locally reachable API URL (absent for TILLFLOW_ROLE=worker). */
  apiUrl?: string;
  /** PUBLIC_BASE_URL, or the local URL. */
  publicUrl?: string;
  docsUrl?: string;
  healthUrl?: string;
  temporalUiUrl?: string;
  /** Connection string; the password is masked unless it is the embedded server's. */
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  embedded: { postgres: boolean; temporal: boolean };
  /** True when this start seeded the demo shop into an empty database. */
  seeded: boolean;
}

export const EMBEDDED_POSTGRES_PORT = 5433;
export const EMBEDDED_DATABASE = 'tillflow';
const MIGRATION_LOCK = 'tillflow:migrate-and-seed';

export function parseRole(env: NodeJS.ProcessEnv): LaunchRole {
  const raw = (env.TILLFLOW_ROLE ?? '').trim() || 'all';
  if (raw === 'api' || raw === 'worker' || raw === 'all') return raw;
  throw new ConfigError(`Invalid configuration:\n  - TILLFLOW_ROLE must be one of api, worker, all (got "${raw}")`);
}

/** The single place HTTP servers are created (a koa-websocket app would attach to this server too). */
/**
 * Which locations' printers this process drives: TILLFLOW_PRINT_LOCATIONS (comma-separated ids,
 * or `all`); by default every location when everything runs in one process (a shop's Pi), none
 * for a plain worker replica (printers belong to a worker on the shop's LAN).
 */
const printLocationsSetting = (env: NodeJS.ProcessEnv, role: LaunchRole): string =>
  (env.TILLFLOW_PRINT_LOCATIONS ?? (role === 'all' ? 'all' : '')).trim();
const printsEveryLocation = (env: NodeJS.ProcessEnv, role: LaunchRole) => printLocationsSetting(env, role) === 'all';
/** How often `all` looks for locations opened since the start. */
const NEW_LOCATION_POLL_MS = 2_000;

async function printingLocations(env: NodeJS.ProcessEnv, knex: Knex, role: LaunchRole): Promise<string[]> {
  const raw = printLocationsSetting(env, role);
  if (!raw) return [];
  if (raw === 'all') return knex('locations').where('active', true).orderBy('created_at').pluck('id');
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

interface Cleanup {
  name: string;
  timeoutMs: number;
  fn: () => Promise<void> | void;
}

/**
 * Brings Tillflow up in order (config → Postgres + Temporal → migrations/seed → worker → API) and
 * takes it down in reverse. Every started piece registers its own cleanup, so a failure or a
 * shutdown part-way through start-up stops exactly what was started.
 */
export class Launcher {
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: Logger;
  private readonly print: (line: string) => void;
  private readonly onFatal: (err: Error) => void;
  private readonly backoffMs?: number[];
  private readonly cleanups: Cleanup[] = [];
  private starting?: Promise<RunningTillflow>;
  private stopping?: Promise<void>;
  private aborted = false;
  /** Components stopping now is expected (stop() or a failed start), not a fatal error. */
  private closing = false;
  /** Child processes we own, for a synchronous last-resort kill (forced exit, process 'exit'). */
  private temporalServer?: DevServerHandle;
  private postgresPidFile?: string;

  constructor(opts: LaunchOptions = {}) {
    this.env = opts.env ?? process.env;
    this.log = (opts.logger ?? rootLogger).child({ component: 'launcher' });
    this.print = opts.print ?? ((line) => process.stdout.write(line + '\n'));
    this.onFatal = opts.onFatal ?? ((err) => this.log.error({ err }, 'component failed'));
    this.backoffMs = opts.restartBackoffMs;
  }

  /**
   * Restarts the child when it dies on its own; registered after the child's own cleanup, so a
   * stop first ends supervision (waiting for a restart in progress), then stops the child.
   */
  private supervise(name: string, child: Restartable): void {
    const supervisor = new Supervisor(name, child, {
      log: this.log,
      backoffMs: this.backoffMs,
      onGiveUp: (err) => {
        if (!this.closing) this.onFatal(err);
      },
    });
    this.onCleanup(`${name} supervision`, () => supervisor.stop());
  }

  get stopRequested(): boolean {
    return this.aborted;
  }

  start(): Promise<RunningTillflow> {
    this.starting ??= this.doStart().catch(async (err) => {
      this.closing = true;
      await this.runCleanups();
      throw err;
    });
    return this.starting;
  }

  /** Graceful, idempotent stop: API, worker, connections, Temporal dev server, Postgres. */
  stop(): Promise<void> {
    this.aborted = true;
    this.closing = true;
    this.stopping ??= (async () => {
      if (this.starting) await this.starting.catch(() => undefined);
      await this.runCleanups();
    })();
    return this.stopping;
  }

  /**
   * Last resort when a graceful stop is not possible (second signal, process exiting): signals our
   * child processes synchronously so none is orphaned. `force` uses SIGKILL for Temporal and
   * SIGQUIT (immediate shutdown) for Postgres.
   */
  killChildrenSync(force: boolean): void {
    const kill = (pid: number | undefined, signal: NodeJS.Signals) => {
      if (!pid || !isAlive(pid)) return;
      try {
        process.kill(pid, signal);
      } catch {
        /* gone */
      }
    };
    kill(this.temporalServer?.pid, force ? 'SIGKILL' : 'SIGTERM');
    if (this.postgresPidFile) kill(readPid(this.postgresPidFile), force ? 'SIGQUIT' : 'SIGINT');
  }

  private checkpoint(): void {
    if (this.aborted) throw new LaunchAborted();
  }

  private onCleanup(name: string, fn: Cleanup['fn'], timeoutMs = 20_000): void {
    this.cleanups.push({ name, fn, timeoutMs });
  }

  private async runCleanups(): Promise<void> {
    while (this.cleanups.length) {
      const c = this.cleanups.pop()!;
      const started = Date.now();
      try {
        await withTimeout(Promise.resolve().then(c.fn), c.timeoutMs, `stopping ${c.name}`);
        this.log.debug({ step: c.name, ms: Date.now() - started }, 'stopped');
      } catch (err) {
        this.log.error({ err, step: c.name }, 'clean stop failed');
      }
    }
  }

  private async doStart(): Promise<RunningTillflow> {
    const config = loadConfig(this.env);
    const role = parseRole(this.env);
    const log = this.log;
    const embedded = { postgres: !config.databaseUrl, temporal: !config.temporalAddress };
    log.info({ role, dataDir: config.dataDir, embedded }, 'starting tillflow');

    if (embedded.postgres || embedded.temporal) {
      const release = acquireDataDirLock(config.dataDir);
      this.onCleanup('data dir lock', release);
    }

    const devServer = embedded.temporal ? await this.resolveTemporalCli(config) : undefined;
    if (embedded.postgres) await importEmbeddedPostgresWithoutSignalHooks();
    this.checkpoint();

    const { databaseUrl, temporalAddress, temporalUiUrl } = await this.startEmbedded(config, embedded, devServer);
    this.checkpoint();

    await waitForDatabase(databaseUrl, embedded.postgres ? 10_000 : 30_000, log);
    this.checkpoint();
    const { knex, seeded } = await this.openDatabase(databaseUrl, config, role);
    this.checkpoint();

    installRuntime({ metricsAddress: role === 'api' ? undefined : config.workerMetricsAddress });
    const client = await connectTemporal(() => connectTemporalClient(temporalAddress), temporalAddress);
    this.onCleanup('Temporal client', () => client.close());
    const { connection } = client;
    await checkNamespace(connection, config.temporalNamespace, temporalAddress, embedded.temporal);
    const temporal = new Client({ connection, namespace: config.temporalNamespace });
    this.checkpoint();

    const payments = await setupPayments(this.env, { sandbox: config.paymentsSandbox, logger: log });
    this.onCleanup('payment simulators', () => payments.close());
    config.airtelCallbackToken ??= payments.airtelCallbackToken;
    this.checkpoint();

    if (role !== 'api') await this.startWorker(config, temporalAddress, knex, role, payments.gateways);
    this.checkpoint();

    const urls =
      role !== 'worker' ? await this.serveApi({ knex, temporal, config, temporalUiUrl, payments }, databaseUrl) : {};
    this.checkpoint();

    const running: RunningTillflow = {
      role,
      config,
      ...urls,
      temporalUiUrl,
      databaseUrl: embedded.postgres ? databaseUrl : maskPassword(databaseUrl),
      temporalAddress,
      namespace: config.temporalNamespace,
      embedded,
      seeded,
    };
    this.printBanner(running);
    this.logReady(running);
    return running;
  }

  /** Resolves the Temporal CLI before starting anything, so a missing prerequisite fails fast. */
  private async resolveTemporalCli(config: Config): Promise<DevServerSetup> {
    const cfg = { ...loadDevServerConfig(), namespace: config.temporalNamespace };
    try {
      const cli = await ensureTemporalCli(cfg, this.env);
      this.log.info({ cli: cli.path, source: cli.source }, 'Temporal CLI');
      return { cliPath: cli.path, cfg };
    } catch (err) {
      throw new LaunchError(`${(err as Error).message}\n(Or set TEMPORAL_ADDRESS to use an existing Temporal server.)`);
    }
  }

  /** Postgres and the Temporal dev server start in parallel; each registers its cleanup as it comes up. */
  private async startEmbedded(
    config: Config,
    embedded: { postgres: boolean; temporal: boolean },
    devServer: DevServerSetup | undefined,
  ): Promise<{ databaseUrl: string; temporalAddress: string; temporalUiUrl: string | undefined }> {
    const [pgResult, temporalResult] = await Promise.allSettled([
      embedded.postgres ? this.startPostgres(config) : Promise.resolve(undefined),
      devServer ? this.startTemporal(config, devServer.cliPath, devServer.cfg) : Promise.resolve(undefined),
    ]);
    if (pgResult.status === 'rejected') throw pgResult.reason;
    if (temporalResult.status === 'rejected') throw temporalResult.reason;
    return {
      databaseUrl: pgResult.value?.url ?? config.databaseUrl!,
      temporalAddress: temporalResult.value?.address ?? config.temporalAddress!,
      temporalUiUrl: config.temporalUiUrl ?? temporalResult.value?.uiUrl,
    };
  }

  /** The pool, migrations and (API roles) the demo seed with its PIN banner or the first-admin help. */
  private async openDatabase(databaseUrl: string, config: Config, role: LaunchRole) {
    const knex = createKnex(databaseUrl, undefined, { preparedStatements: config.pgPreparedStatements });
    this.onCleanup('database pool', () => knex.destroy());
    bindModels(knex);
    const seeded = await migrateAndSeed(
      databaseUrl,
      knex,
      config,
      role !== 'worker' && demoSeedWanted(config),
      this.log,
    );
    if (role !== 'worker') {
      await this.printDemoPins(knex, config, seeded);
      if (!(await knex('staff').first('id'))) this.printFirstAdminHelp();
    }
    return { knex, seeded };
  }

  /** Starts the API (and mDNS when on), and points the gateways' callbacks at its public URL. */
  private async serveApi(
    s: {
      knex: Knex;
      temporal: Client;
      config: Config;
      temporalUiUrl: string | undefined;
      payments: Awaited<ReturnType<typeof setupPayments>>;
    },
    databaseUrl: string,
  ): Promise<Pick<RunningTillflow, 'apiUrl' | 'publicUrl' | 'docsUrl' | 'healthUrl'>> {
    const { config, payments } = s;
    const deps: AppDeps = {
      knex: s.knex,
      temporal: s.temporal,
      config,
      logger: rootLogger,
      version: packageVersion(),
      startedAt: new Date(),
      temporalUiUrl: s.temporalUiUrl,
      gateways: payments.gateways,
      paymentModes: payments.modes,
    };
    const port = await this.startApi(deps, config, databaseUrl);
    if (config.mdns) {
      // Advertise the port really listened on; GET /api/v1/devices/discover browses through it too.
      const discovery = startDiscovery({ port, version: deps.version, logger: rootLogger });
      deps.discovery = discovery;
      this.onCleanup('mDNS', () => discovery.stop(), 5_000);
      discovery.advertise().catch((err: Error) => {
        if (!this.closing) this.log.warn({ err }, 'mDNS advertisement failed');
      });
    }
    const apiUrl = `http://${reachableHost(config.host)}:${port}`;
    const publicUrl = config.publicBaseUrl?.replace(/\/+$/, '') ?? apiUrl;
    // Gateways (and the sandbox simulators) call back here.
    config.publicBaseUrl ??= publicUrl;
    payments.attach(publicUrl);
    return { apiUrl, publicUrl, docsUrl: `${publicUrl}/docs`, healthUrl: `${publicUrl}/health` };
  }

  /** The `tillflow ready` line that marks readiness. */
  private logReady(running: RunningTillflow): void {
    this.log.info(
      {
        role: running.role,
        apiUrl: running.apiUrl,
        docsUrl: running.docsUrl,
        healthUrl: running.healthUrl,
        temporalUiUrl: running.temporalUiUrl,
        temporalAddress: running.temporalAddress,
        namespace: running.namespace,
        taskQueue: running.role === 'api' ? undefined : running.config.taskQueue,
      },
      'tillflow ready',
    );
  }

  private async startPostgres(config: Config): Promise<EmbeddedPostgresHandle> {
    const dir = path.join(config.dataDir, 'postgres');
    const started = Date.now();
    const pg = await startEmbeddedPostgres({ dir, database: EMBEDDED_DATABASE, port: EMBEDDED_POSTGRES_PORT });
    this.postgresPidFile = path.join(dir, 'postmaster.pid');
    this.onCleanup('PostgreSQL', async () => {
      const pid = readPid(this.postgresPidFile!);
      try {
        await withTimeout(pg.stop(), 15_000, 'PostgreSQL stop');
      } catch (err) {
        // Immediate shutdown: crash-safe, recovered on the next start.
        if (pid && isAlive(pid)) process.kill(pid, 'SIGQUIT');
        throw err;
      }
    });
    this.supervise('PostgreSQL', pg);
    this.log.info({ url: pg.url, ms: Date.now() - started }, 'PostgreSQL (embedded) ready');
    return pg;
  }

  private async startTemporal(
    config: Config,
    cliPath: string,
    cfg: ReturnType<typeof loadDevServerConfig>,
  ): Promise<DevServerHandle> {
    const started = Date.now();
    const server = await startTemporalDevServer({ cliPath, cfg, dataDir: path.join(config.dataDir, 'temporal') });
    this.temporalServer = server;
    this.onCleanup('Temporal dev server', () => server.stop());
    this.supervise('Temporal dev server', server);
    this.log.info(
      { address: server.address, uiUrl: server.uiUrl, ms: Date.now() - started },
      'Temporal dev server ready',
    );
    return server;
  }

  private async startWorker(
    config: Config,
    address: string,
    knex: Knex,
    role: LaunchRole,
    gateways: Gateways,
  ): Promise<void> {
    const nativeConnection = await connectTemporal(() => NativeConnection.connect({ address }), address);
    this.onCleanup('worker connection', () => nativeConnection.close());
    const started = Date.now();
    const worker = await createCentralWorker({
      connection: nativeConnection,
      namespace: config.temporalNamespace,
      taskQueue: config.taskQueue,
      deps: { knex, logger: rootLogger, gateways, smtp: config.smtp },
      workflowBundlePath: config.workflowBundlePath,
      // Activities in flight get 10 s to finish on shutdown before they are cancelled.
      tuning: { shutdownGraceTime: '10s', shutdownForceTime: '25s' },
    });
    const running = worker.run().then(
      () => {
        if (!this.closing) this.onFatal(new Error('Temporal worker stopped unexpectedly'));
      },
      (err: Error) => {
        if (!this.closing) this.onFatal(err);
        else this.log.warn({ err }, 'worker stopped with an error');
      },
    );
    this.onCleanup(
      'worker',
      async () => {
        // The Temporal runtime also reacts to SIGINT/SIGTERM by shutting workers down.
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      },
      30_000,
    );
    this.log.info({ taskQueue: config.taskQueue, ms: Date.now() - started }, 'worker running');
    const printing = new Set<string>();
    const serve = async (locationId: string) => {
      printing.add(locationId);
      await this.startPrintingWorker(nativeConnection, config, locationId);
    };
    for (const locationId of await printingLocations(this.env, knex, role)) await serve(locationId);
    if (printsEveryLocation(this.env, role)) this.watchNewLocations(knex, printing, serve);
  }

  /** One location's printing worker on its own task queue; it stops with the launcher. */
  private async startPrintingWorker(connection: NativeConnection, config: Config, locationId: string): Promise<void> {
    const printing = await createPrintingWorker({ connection, namespace: config.temporalNamespace, locationId });
    const printingRun = printing.run().catch((err: Error) => {
      if (!this.closing) this.onFatal(err);
    });
    this.onCleanup(`printing worker ${locationId}`, async () => {
      if (printing.getState() === 'RUNNING') printing.shutdown();
      await printingRun;
    });
    this.log.info({ locationId }, 'printing worker running (this process owns the printers of this location)');
  }

  /**
   * With TILLFLOW_PRINT_LOCATIONS=all, a location opened later (POST /api/v1/locations) gets its
   * printing worker within NEW_LOCATION_POLL_MS, without a restart. Polling, not LISTEN: it is one
   * cheap query, and a missed notification could never leave a location unserved.
   */
  private watchNewLocations(knex: Knex, served: Set<string>, serve: (id: string) => Promise<void>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.closing) return;
      busy = true;
      knex('locations')
        .where('active', true)
        .orderBy('created_at')
        .pluck('id')
        .then(async (ids: string[]) => {
          for (const id of ids) if (!served.has(id) && !this.closing) await serve(id);
        })
        .catch((err: Error) => this.log.warn({ err }, 'looking for new locations to print for failed; retrying'))
        .finally(() => (busy = false));
    }, NEW_LOCATION_POLL_MS);
    timer.unref();
    this.onCleanup('new-location watch', () => clearInterval(timer));
  }

  private async startApi(deps: AppDeps, config: Config, databaseUrl: string): Promise<number> {
    let api: ApiServer;
    try {
      api = await startApiServer(deps, { databaseUrl, port: config.port, host: config.host });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES') {
        throw new LaunchError(
          `Cannot listen on ${config.host}:${config.port} (${code}); set PORT (and HOST) to a free address.`,
        );
      }
      throw err;
    }
    api.server.on('error', (err) => {
      if (!this.closing) this.onFatal(err);
    });
    this.onCleanup('API server', async () => {
      // Requests in flight get a few seconds to finish; then remaining connections are cut.
      const timer = setTimeout(() => api.server.closeAllConnections(), 5_000);
      api.server.closeIdleConnections();
      await api.close();
      clearTimeout(timer);
    });
    return (api.server.address() as AddressInfo).port;
  }

  private async printDemoPins(knex: Knex, config: Config, seeded: boolean): Promise<void> {
    const all = DEMO_LOCATIONS.flatMap((l) => l.staff.map((s) => ({ ...s, location: l.name })));
    const byLookup = new Map(all.map((s) => [pinLookup(config.tokenSecret, s.pin), s]));
    const rows: Array<{ pin_lookup: string }> = await knex('staff')
      .whereIn('pin_lookup', [...byLookup.keys()])
      .where('active', true)
      .whereNull('deleted_at')
      .select('pin_lookup');
    const active = all.filter((s) => rows.some((r) => byLookup.get(r.pin_lookup) === s));
    if (active.length === 0) return;
    const p = this.print;
    p('');
    p(
      seeded
        ? 'Seeded the demo shops "Demo Café" (USD) and "Demo Kibanda (Nairobi)" (KES: try M-Pesa and Airtel there). Demo staff PINs:'
        : 'Demo staff PINs still active:',
    );
    for (const s of active) p(`    ${s.name.padEnd(16)} ${s.pin.padEnd(6)}  ${s.role.padEnd(8)} ${s.location}`);
    p('!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!');
    p('!!  WARNING: these demo PINs are public. Anyone can log in with them.           !!');
    p('!!  Change every PIN (or deactivate the demo staff) before real use.            !!');
    p('!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!');
  }

  /** A database without staff (external, not seeded): nobody can log in until a first admin exists. */
  private printFirstAdminHelp(): void {
    const p = this.print;
    p('');
    p('This database has no staff yet, so nobody can log in. Create the first admin (their PIN is printed once):');
    p('    node dist/bin/create-admin.js --name "Your name" [--location "Shop name"]');
    p('  with the same DATABASE_URL and TILLFLOW_TOKEN_SECRET (or TILLFLOW_DATA_DIR) as this server.');
  }

  private printBanner(r: RunningTillflow): void {
    const p = this.print;
    p('');
    p(`Tillflow is up (TILLFLOW_ROLE=${r.role})`);
    if (r.publicUrl) {
      p(`  API          ${r.publicUrl}`);
      p(`  API docs     ${r.docsUrl}`);
      p(`  Health       ${r.healthUrl}`);
    } else {
      p(`  Worker       task queue "${r.config.taskQueue}" (no HTTP in this role)`);
    }
    p(`  Temporal UI  ${r.temporalUiUrl ?? '(not known; set TEMPORAL_UI_URL)'}`);
    p(
      `  Temporal     ${r.temporalAddress}  namespace ${r.namespace}${r.embedded.temporal ? '  (local dev server)' : ''}`,
    );
    p(`  PostgreSQL   ${r.databaseUrl}${r.embedded.postgres ? '  (embedded)' : ''}`);
    if (r.role === 'api')
      p(
        '  No worker runs in this process: start one with TILLFLOW_ROLE=worker against the same Postgres and Temporal.',
      );
    p('Press Ctrl-C to stop.');
    p('');
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One launcher per data dir: a second one would stop the first one's Postgres and Temporal (they
 * look stale from its point of view). A pid file left by a launcher killed with SIGKILL is ignored.
 */
function acquireDataDirLock(dataDir: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'tillflow.pid');
  const other = readPid(file);
  if (other && other !== process.pid && isAlive(other) && looksLikeNode(other)) {
    throw new LaunchError(
      `Another Tillflow (pid ${other}) is running with data dir ${dataDir}. Stop it, or set TILLFLOW_DATA_DIR ` +
        '(or DATABASE_URL and TEMPORAL_ADDRESS to share its Postgres and Temporal).',
    );
  }
  fs.writeFileSync(file, String(process.pid));
  return () => {
    if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
  };
}

function looksLikeNode(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node');
  } catch {
    return !fs.existsSync('/proc/self'); // no procfs: trust the pid
  }
}

// embedded-postgres is ESM-only; keep the import native when TypeScript compiles to CommonJS.
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;
const HOOKED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * embedded-postgres registers async-exit-hook on import, whose SIGINT/SIGTERM handlers stop
 * Postgres straight away and then exit with 130/143 — while the worker and API still use it, and
 * before Temporal is stopped. Loading it here first and removing those signal listeners leaves
 * shutdown order to the launcher (its 'exit' hook stays as a last-resort safety net).
 */
async function importEmbeddedPostgresWithoutSignalHooks(): Promise<void> {
  const before = new Map(HOOKED_SIGNALS.map((s) => [s, new Set(process.listeners(s as NodeJS.Signals))]));
  await importEsm('embedded-postgres');
  for (const s of HOOKED_SIGNALS) {
    for (const l of process.listeners(s as NodeJS.Signals)) {
      if (!before.get(s)!.has(l)) process.removeListener(s, l);
    }
  }
}

async function waitForDatabase(url: string, timeoutMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let warned = 0;
  for (;;) {
    const client = new PgClient({ connectionString: url, connectionTimeoutMillis: 5_000 });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new LaunchError(`Cannot connect to PostgreSQL at ${maskPassword(url)}: ${(err as Error).message}`);
      }
      if (Date.now() - warned > 5_000) {
        warned = Date.now();
        log.warn({ err: (err as Error).message }, 'waiting for PostgreSQL');
      }
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/**
 * The demo shop has public PINs: it goes only into the embedded default database (a local
 * try-out), or wherever TILLFLOW_SEED_DEMO=true asks for it explicitly; TILLFLOW_SEED_DEMO=false
 * keeps it out of the embedded one too.
 */
export function demoSeedWanted(config: Config): boolean {
  return config.seedDemo ?? !config.databaseUrl;
}

/**
 * Migrations, then the demo shop on an empty database (when wanted), under a Postgres advisory lock so API and
 * worker replicas starting together take turns. Returns true when the demo shop was seeded.
 */
async function migrateAndSeed(url: string, knex: Knex, config: Config, seed: boolean, log: Logger): Promise<boolean> {
  const lock = new PgClient({ connectionString: url });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK]);
    const started = Date.now();
    await migrateLatest(knex);
    log.info({ ms: Date.now() - started }, 'database migrated');
    if (!seed) return false;
    const shop = await seedDemoShop(knex, config.tokenSecret);
    if (shop) {
      const nairobi = await seedNairobiDemo(knex, config.tokenSecret);
      log.info({ locationId: shop.locationId, nairobiLocationId: nairobi.locationId }, 'seeded the demo shop');
    }
    return shop !== undefined;
  } finally {
    await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK]).catch(() => undefined);
    await lock.end().catch(() => undefined);
  }
}

async function connectTemporal<T>(connect: () => Promise<T>, address: string): Promise<T> {
  try {
    return await connect();
  } catch (err) {
    throw new LaunchError(`Cannot connect to Temporal at ${address}: ${(err as Error).message}`);
  }
}

async function checkNamespace(
  connection: Connection,
  namespace: string,
  address: string,
  devServer: boolean,
): Promise<void> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    const e = err as { code?: number; message?: string };
    if (e.code === 5 /* NOT_FOUND */ && !devServer) {
      throw new LaunchError(
        `Temporal namespace "${namespace}" does not exist at ${address}. Register it and the search attributes ` +
          'listed in temporal-dev.yml (see README, "Running in production"), or set TEMPORAL_NAMESPACE.',
      );
    }
    throw new LaunchError(`Temporal at ${address} did not answer for namespace "${namespace}": ${e.message}`);
  }
}

function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function maskPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

let version: string | undefined;
/** The version from package.json (found from source and from dist/). */
export function packageVersion(): string {
  if (version) return version;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tillflow') return (version = pkg.version ?? '0.0.0');
    }
    if (path.dirname(dir) === dir) return (version = '0.0.0');
  }
}
