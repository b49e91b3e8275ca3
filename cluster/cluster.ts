import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../platform/postgres';
import { loadDevServerConfig } from '../platform/temporal-dev-config';
import { ensureTemporalCli } from '../platform/temporal-cli';
import { startSandboxProcess, type SandboxProcess } from './sandbox-process';
import {
  clusterPorts,
  ensureClusterTool,
  prepareNamespace,
  setupSchemas,
  startTemporalServer,
  startUiServer,
  writeDynamicConfig,
  type ClusterPorts,
  type PostgresAccess,
  type ServerProcess,
} from './temporal';

/**
 * The production topology on one machine (`npm run cluster`, test/cluster.test.ts): PostgreSQL,
 * the Temporal server on it with 4 shards, the Web UI, the namespace and search attributes, and
 * the sandbox gateways as their own process. Tillflow's API and worker replicas are started
 * against it with `tillflowEnv()` (bin/cluster.ts, the test).
 */
export interface ClusterOptions {
  dataDir: string;
  portBase: number;
  log?: (line: string) => void;
}

export interface RunningCluster {
  ports: ClusterPorts;
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  uiUrl: string;
  apiUrls: [string, string];
  sandbox: SandboxProcess;
  /** The environment of Tillflow replica `index` (0 or 1) in `role`. */
  tillflowEnv(role: 'api' | 'worker', index: number): Record<string, string>;
  /** Everything a client (bin/cluster.ts, the test) needs, also written to <dataDir>/cluster.json. */
  describe(): ClusterInfo;
  stop(): Promise<void>;
}

export interface ClusterInfo {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  uiUrl: string;
  apiUrls: [string, string];
  sandboxUrl: string;
  temporalServerPid?: number;
  env: {
    api: [Record<string, string>, Record<string, string>];
    worker: [Record<string, string>, Record<string, string>];
  };
}

export const CLUSTER_INFO_FILE = 'cluster.json';

/** PostgreSQL holds Tillflow's database and Temporal's two (persistence, visibility): one server, separate databases. */
const TILLFLOW_DB = 'tillflow';

export async function startCluster(opts: ClusterOptions): Promise<RunningCluster> {
  const log = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const ports = clusterPorts(opts.portBase);
  const dir = path.resolve(opts.dataDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    while (stops.length) await stops.pop()!().catch((err: Error) => log(`stop failed: ${err.message}`));
  };
  try {
    const tools = await clusterTools(log);
    const { cfg } = tools;
    const { pg, access } = await startPostgres(dir, ports, tools.sqlTool, stops, log);
    const temporalAddress = `127.0.0.1:${ports.frontend}`;
    let describe: () => ClusterInfo = () => {
      throw new Error('cluster not started');
    };
    const writeInfo = () =>
      fs.writeFileSync(path.join(dir, CLUSTER_INFO_FILE), JSON.stringify(describe(), null, 2) + '\n');
    const server = await startSupervisedServer({ dir, ports, access, tools, temporalAddress, writeInfo, log }, stops);
    prepareNamespace(tools.cli, temporalAddress, cfg, log);

    const ui = await startUiServer(tools.uiBin, temporalAddress, ports.ui, cfg.namespace, dir);
    stops.push(() => ui.stop());
    log(`Temporal Web UI ${ui.address}`);

    const apiUrls: [string, string] = [`http://127.0.0.1:${ports.api[0]}`, `http://127.0.0.1:${ports.api[1]}`];
    // Webhooks go to the second API replica: a payment started through the first completes through the other.
    const sandbox = await startSandboxProcess(path.join(dir, 'sandbox'), ports.sandbox, {
      TILLFLOW_SANDBOX_WEBHOOK_BASE: apiUrls[1],
    });
    stops.push(() => sandbox.stop());
    log(`Sandbox gateways ${sandbox.controlUrl} (webhooks to ${apiUrls[1]})`);

    const common = {
      ...sandbox.env,
      DATABASE_URL: pg.url,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: cfg.namespace,
      TEMPORAL_UI_URL: ui.address,
      TILLFLOW_TOKEN_SECRET: persistedSecret(path.join(dir, 'token-secret')),
      PUBLIC_BASE_URL: apiUrls[1],
      TILLFLOW_SEED_DEMO: 'true',
      TILLFLOW_PAYMENTS_SANDBOX: 'false',
      TILLFLOW_MDNS: 'off',
    };
    const tillflowEnv = replicaEnv(common, dir, ports);
    describe = () => ({
      databaseUrl: pg.url,
      temporalAddress,
      namespace: cfg.namespace,
      uiUrl: ui.address,
      apiUrls,
      sandboxUrl: sandbox.controlUrl,
      temporalServerPid: server.current().child.pid,
      env: {
        api: [tillflowEnv('api', 0), tillflowEnv('api', 1)],
        worker: [tillflowEnv('worker', 0), tillflowEnv('worker', 1)],
      },
    });
    writeInfo();
    return {
      ports,
      databaseUrl: pg.url,
      temporalAddress,
      namespace: cfg.namespace,
      uiUrl: ui.address,
      apiUrls,
      sandbox,
      tillflowEnv,
      describe: () => describe(),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

type ClusterTools = Awaited<ReturnType<typeof clusterTools>>;

/** The server, SQL tool and UI binaries, the dev-server config and the Temporal CLI. */
async function clusterTools(log: (line: string) => void) {
  const progress = (l: string) => log(l);
  // Built once per machine: in parallel they would only fight over two cores.
  const serverBin = await ensureClusterTool('server', progress);
  const sqlTool = await ensureClusterTool('sql', progress);
  const uiBin = await ensureClusterTool('ui', progress);
  const cfg = loadDevServerConfig();
  const cli = (await ensureTemporalCli(cfg)).path;
  return { serverBin, sqlTool, uiBin, cfg, cli };
}

/** PostgreSQL with Tillflow's database and Temporal's two schemas set up. */
async function startPostgres(
  dir: string,
  ports: ClusterPorts,
  sqlTool: string,
  stops: Array<() => Promise<void>>,
  log: (line: string) => void,
): Promise<{ pg: EmbeddedPostgresHandle; access: PostgresAccess }> {
  const pg: EmbeddedPostgresHandle = await startEmbeddedPostgres({
    dir: path.join(dir, 'postgres'),
    database: TILLFLOW_DB,
    port: ports.postgres,
  });
  stops.push(() => pg.stop());
  const pgUrl = new URL(pg.url);
  const access = {
    port: Number(pgUrl.port),
    user: decodeURIComponent(pgUrl.username),
    password: decodeURIComponent(pgUrl.password),
  };
  log(`PostgreSQL ready on 127.0.0.1:${access.port} (databases ${TILLFLOW_DB}, temporal, temporal_visibility)`);
  await setupSchemas(sqlTool, access, (db) => hasVersionTable(pg.url, db), log);
  return { pg, access };
}

/**
 * The Temporal server on PostgreSQL: a server process that dies is started again on the same
 * database, as a service manager would (and cluster.json is rewritten with its pid).
 */
async function startSupervisedServer(
  c: {
    dir: string;
    ports: ClusterPorts;
    access: PostgresAccess;
    tools: ClusterTools;
    temporalAddress: string;
    writeInfo: () => void;
    log: (line: string) => void;
  },
  stops: Array<() => Promise<void>>,
): Promise<{ current: () => ServerProcess }> {
  const { dir, access, temporalAddress, log } = c;
  const dynamicConfig = path.join(dir, 'temporal-dynamicconfig.yaml');
  writeDynamicConfig(c.tools.cfg, dynamicConfig);
  const serverEnv = {
    ...c.ports.serverEnv,
    TILLFLOW_CLUSTER_PG_PORT: String(access.port),
    TILLFLOW_CLUSTER_PG_USER: access.user,
    TILLFLOW_CLUSTER_PG_PASSWORD: access.password,
    TILLFLOW_CLUSTER_DYNAMIC_CONFIG: dynamicConfig,
  };
  const serverLog = path.join(dir, 'temporal-server.log');
  let stopping = false;
  let server: ServerProcess;
  const startServer = async () => {
    server = await startTemporalServer(c.tools.serverBin, serverEnv, temporalAddress, serverLog);
    server.child.once('exit', (code, signal) => {
      if (stopping) return;
      log(`Temporal server exited (${code ?? signal}); starting it again`);
      startServer().then(c.writeInfo, (err: Error) => log(`Temporal server restart failed: ${err.message}`));
    });
  };
  await startServer();
  stops.push(() => {
    stopping = true;
    return server.stop();
  });
  log(
    `Temporal server ${temporalAddress} (4 history shards, PostgreSQL persistence + SQL visibility; log ${serverLog})`,
  );
  return { current: () => server };
}

/** The environment of Tillflow replica `index` (0 or 1) in `role`. */
function replicaEnv(common: Record<string, string>, dir: string, ports: ClusterPorts) {
  return (role: 'api' | 'worker', index: number): Record<string, string> => ({
    ...common,
    TILLFLOW_ROLE: role,
    TILLFLOW_DATA_DIR: path.join(dir, `${role}-${index + 1}`),
    ...(role === 'api'
      ? { PORT: String(ports.api[index]), HOST: '127.0.0.1' }
      : // The first worker also drives the demo shop's printers (a shop's LAN worker).
        { TILLFLOW_PRINT_LOCATIONS: index === 0 ? 'all' : '' }),
  });
}

async function hasVersionTable(url: string, db: string): Promise<boolean> {
  const u = new URL(url);
  u.pathname = `/${db}`;
  const client = new PgClient({ connectionString: u.toString() });
  await client.connect();
  try {
    const r = await client.query("SELECT to_regclass('public.schema_version') IS NOT NULL AS present");
    return r.rows[0].present === true;
  } finally {
    await client.end();
  }
}

function persistedSecret(file: string): string {
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('hex');
  fs.writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}
