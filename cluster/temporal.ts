import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { goInstallInto, isExecutable, onPath, toolCacheDir } from '../platform/binaries';
import type { DevServerConfig } from '../platform/temporal-dev-config';

/**
 * The Temporal server a production cluster runs (v1.29.1, not the CLI's dev server), its SQL schema
 * tool and the Web UI server, built once per machine from the Go module proxy like the CLI, and
 * the operator steps that prepare a cluster for Tillflow (README, "Running in production").
 */
export const SERVER_VERSION = 'v1.29.1';
export const UI_SERVER_VERSION = 'v2.42.1';
const TOOLS = {
  server: {
    module: 'go.temporal.io/server/cmd/server',
    version: SERVER_VERSION,
    binary: 'server',
    cached: 'temporal-server',
    dir: `temporal-server-${SERVER_VERSION}`,
  },
  sql: {
    module: 'go.temporal.io/server/cmd/tools/sql',
    version: SERVER_VERSION,
    binary: 'sql',
    cached: 'temporal-sql-tool',
    dir: `temporal-server-${SERVER_VERSION}`,
  },
  ui: {
    module: 'github.com/temporalio/ui-server/v2/cmd/server',
    version: UI_SERVER_VERSION,
    binary: 'server',
    cached: 'temporal-ui-server',
    dir: `temporal-ui-server-${UI_SERVER_VERSION}`,
  },
} as const;
export type ClusterTool = keyof typeof TOOLS;

const REPO = path.resolve(__dirname, '..');
const works = (bin: string) => spawnSync(bin, ['--version'], { stdio: 'ignore', timeout: 20_000 }).status === 0;

/** The cached binary, built with `go install` (GOFLAGS=-p=1 unless set: 2 shared cores) when missing. */
export async function ensureClusterTool(
  tool: ClusterTool,
  progress: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const t = TOOLS[tool];
  const target = path.join(toolCacheDir(t.dir, env), t.cached);
  if (isExecutable(target) && works(target)) return target;
  const go = onPath('go', env);
  if (!go)
    throw new Error(
      `${t.cached} ${t.version} is not cached at ${target} and Go is not installed to build it (https://go.dev/dl/).`,
    );
  progress(`Building ${t.cached} ${t.version} with Go (first run only; 10-30 minutes on 2 busy cores)…`);
  const secs = await goInstallInto({
    go,
    module: t.module,
    version: t.version,
    binary: t.binary,
    target,
    works,
    progress,
    env: { ...env, GOFLAGS: env.GOFLAGS ?? '-p=1' },
  });
  progress(`${t.cached} built in ${secs}s and cached at ${target}`);
  return target;
}

/** Every port of one cluster, from one base (a block of 25). */
export interface ClusterPorts {
  frontend: number;
  ui: number;
  postgres: number;
  api: [number, number];
  sandbox: number;
  serverEnv: Record<string, string>;
}

export const CLUSTER_DEFAULT_PORT = 7300;
export const CLUSTER_PORT_BLOCK = 25;

export function clusterPorts(base: number): ClusterPorts {
  const names = [
    'FRONTEND',
    'FRONTEND_MEMBERSHIP',
    'FRONTEND_HTTP',
    'HISTORY',
    'HISTORY_MEMBERSHIP',
    'MATCHING',
    'MATCHING_MEMBERSHIP',
    'WORKER',
    'WORKER_MEMBERSHIP',
  ];
  const serverEnv = Object.fromEntries(names.map((n, i) => [`TILLFLOW_CLUSTER_${n}_PORT`, String(base + i)]));
  return {
    frontend: base,
    ui: base + 9,
    postgres: base + 10,
    api: [base + 11, base + 12],
    sandbox: base + 20,
    serverEnv,
  };
}

export interface PostgresAccess {
  port: number;
  user: string;
  password: string;
}

/**
 * Schemas with the SQL tool: the two databases, the versioning tables on first setup only, then
 * every versioned update to the latest (a no-op when current), exactly as an operator runs them.
 */
export async function setupSchemas(
  sqlTool: string,
  pg: PostgresAccess,
  hasVersionTable: (db: string) => Promise<boolean>,
  log: (l: string) => void,
): Promise<void> {
  for (const [db, schema] of [
    ['temporal', 'postgresql/v12/temporal'],
    ['temporal_visibility', 'postgresql/v12/visibility'],
  ] as const) {
    const base = [
      '--plugin',
      'postgres12',
      '--ep',
      '127.0.0.1',
      '-p',
      String(pg.port),
      '-u',
      pg.user,
      '--pw',
      pg.password,
      '--db',
      db,
    ];
    run(sqlTool, [...base, 'create-database'], { quietIfExists: true });
    if (!(await hasVersionTable(db))) run(sqlTool, [...base, 'setup-schema', '-v', '0.0']);
    run(sqlTool, [...base, 'update-schema', '--schema-name', schema]);
    log(`schema ${schema} up to date in database ${db}`);
  }
}

function run(bin: string, args: string[], opts: { quietIfExists?: boolean } = {}): void {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0) return;
  const out = `${r.stdout}\n${r.stderr}`;
  if (opts.quietIfExists && /already exists/.test(out)) return;
  throw new Error(
    `${path.basename(bin)} ${args.filter((a, i) => args[i - 1] !== '--pw').join(' ')} failed (exit ${r.status}):\n${out.slice(-2000)}`,
  );
}

/** temporal-dev.yml's dynamicConfig as the server's dynamic config file (one source, no drift). */
export function writeDynamicConfig(cfg: DevServerConfig, file: string): void {
  const doc = Object.fromEntries(
    Object.entries(cfg.dynamicConfig).map(([k, v]) => [k, [{ value: v, constraints: {} }]]),
  );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, stringify(doc));
}

export interface ServerProcess {
  child: ChildProcess;
  address: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `temporal-server --root <repo> --config config --env temporal-cluster start`, waited for until the frontend answers. */
export async function startTemporalServer(
  bin: string,
  env: Record<string, string>,
  address: string,
  logFile: string,
): Promise<ServerProcess> {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(
    bin,
    ['--root', REPO, '--config', 'config', '--env', 'temporal-cluster', '--allow-no-auth', 'start'],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', out, out],
    },
  );
  fs.closeSync(out);
  const proc = { child, address, stop: (signal: NodeJS.Signals = 'SIGTERM') => endChild(child, signal) };
  try {
    await waitForFrontend(address, child, logFile);
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
  return proc;
}

async function waitForFrontend(
  address: string,
  child: ChildProcess,
  logFile: string,
  timeoutMs = 180_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`temporal-server exited ${child.exitCode}; see ${logFile}:\n${tail(logFile)}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'temporal-system' });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`temporal-server did not answer at ${address}: ${(err as Error).message}\n${tail(logFile)}`, {
          cause: err,
        });
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** The Web UI server (ui-server), configured through its own template's variables. */
export async function startUiServer(
  bin: string,
  frontend: string,
  port: number,
  namespace: string,
  dir: string,
): Promise<ServerProcess> {
  // ui-server reads <root>/config/<env>.yaml: its docker.yaml template, copied once from the module.
  const configDir = path.join(dir, 'ui-config');
  fs.mkdirSync(configDir, { recursive: true });
  fs.writeFileSync(path.join(configDir, 'cluster.yaml'), UI_CONFIG);
  const child = spawn(bin, ['--root', dir, '--config', 'ui-config', '--env', 'cluster', 'start'], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: frontend,
      TEMPORAL_UI_PORT: String(port),
      TEMPORAL_DEFAULT_NAMESPACE: namespace,
    },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`temporal-ui-server exited ${child.exitCode}`);
    const ok = await fetch(url).then(
      (r) => r.status < 500,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await endChild(child, 'SIGKILL');
      throw new Error(`temporal-ui-server did not answer at ${url}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return { child, address: url, stop: (signal: NodeJS.Signals = 'SIGTERM') => endChild(child, signal) };
}

const UI_CONFIG = `# enable-template
temporalGrpcAddress: {{ env "TEMPORAL_ADDRESS" }}
host: 127.0.0.1
port: {{ env "TEMPORAL_UI_PORT" }}
enableUi: true
defaultNamespace: {{ env "TEMPORAL_DEFAULT_NAMESPACE" }}
notifyOnNewVersion: false
cors:
  cookieInsecure: true
  allowOrigins: []
`;

/**
 * The operator steps of README "Running in production", with the Temporal CLI against the
 * cluster: create the namespace, register each search attribute of temporal-dev.yml (skipping
 * those already there, so a restart repeats nothing).
 */
export function prepareNamespace(cli: string, address: string, cfg: DevServerConfig, log: (l: string) => void): void {
  const base = ['--address', address];
  const described = spawnSync(cli, ['operator', 'namespace', 'describe', ...base, '--namespace', cfg.namespace], {
    encoding: 'utf8',
  });
  if (described.status !== 0) {
    run(cli, ['operator', 'namespace', 'create', ...base, '--namespace', cfg.namespace, '--retention', '72h']);
    log(`namespace ${cfg.namespace} created`);
  }
  const listed = spawnSync(
    cli,
    ['operator', 'search-attribute', 'list', ...base, '--namespace', cfg.namespace, '-o', 'json'],
    { encoding: 'utf8' },
  );
  const existing = listed.stdout ?? '';
  for (const [name, type] of Object.entries(cfg.searchAttributes)) {
    if (existing.includes(`"${name}"`)) continue;
    runWhenNamespaceKnown(cli, [
      'operator',
      'search-attribute',
      'create',
      ...base,
      '--namespace',
      cfg.namespace,
      '--name',
      name,
      '--type',
      type,
    ]);
    log(`search attribute ${name} (${type}) registered`);
  }
}

/** A namespace just created reaches every service's namespace cache within seconds: until then it is "not found". */
function runWhenNamespaceKnown(bin: string, args: string[], tries = 60): void {
  for (let i = 1; ; i++) {
    try {
      return run(bin, args);
    } catch (err) {
      if (i >= tries || !/is not found/.test((err as Error).message)) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_000);
    }
  }
}

export function endChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill(signal);
  });
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-2000);
  } catch {
    return '';
  }
}
