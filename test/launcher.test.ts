import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadDevServerConfig } from '../platform/temporal-dev-config';
import { cliCacheDir, ensureTemporalCli, findTemporalCli } from '../platform/temporal-cli';
import { isAlive } from '../platform/processes';

const ROOT = path.resolve(__dirname, '..');
const cfg = loadDevServerConfig();
const tmpDirs: string[] = [];

function tmpDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755); // embedded Postgres runs as the postgres user when we are root
  tmpDirs.push(dir);
  return dir;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** PATH without any directory holding `temporal` or `go`, so nothing can be found there or built. */
function pathWithout(...names: string[]): string {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => dir && !names.some((n) => isExecutable(path.join(dir, n))))
    .join(path.delimiter);
}

describe('Temporal CLI lookup', () => {
  it('reuses the cached CLI when TEMPORAL_CLI is unset and PATH has none, without building', async () => {
    let cacheBase = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    if (!isExecutable(path.join(cliCacheDir(cfg, { XDG_CACHE_HOME: cacheBase }), 'temporal'))) {
      // This machine has its CLI on PATH or in TEMPORAL_CLI, not in the cache: use a stand-in.
      cacheBase = tmpDir('tillflow-cache-');
      const dir = cliCacheDir(cfg, { XDG_CACHE_HOME: cacheBase });
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'temporal'), '#!/bin/sh\necho "temporal version 1.5.1"\n', { mode: 0o755 });
    }
    const env: NodeJS.ProcessEnv = { PATH: pathWithout('temporal', 'go'), HOME: os.homedir(), XDG_CACHE_HOME: cacheBase };
    const cached = path.join(cliCacheDir(cfg, env), 'temporal');
    const mtime = fs.statSync(cached).mtimeMs;

    expect(findTemporalCli(cfg, env)).toEqual({ path: cached, source: 'cache' });
    // ensureTemporalCli would report source 'built' (and rewrite the binary) had it built one.
    await expect(ensureTemporalCli(cfg, env)).resolves.toEqual({ path: cached, source: 'cache' });
    expect(fs.statSync(cached).mtimeMs).toBe(mtime);
  });

  it('rejects a TEMPORAL_CLI that is not an executable file with a clear message', () => {
    const file = path.join(tmpDir('tillflow-cli-'), 'temporal');
    fs.writeFileSync(file, 'not a program', { mode: 0o644 });
    expect(() => findTemporalCli(cfg, { TEMPORAL_CLI: file, PATH: '' })).toThrow(`TEMPORAL_CLI=${file} is not an executable file`);
    expect(() => findTemporalCli(cfg, { TEMPORAL_CLI: '/nonexistent/temporal', PATH: '' })).toThrow(/is not an executable file/);
  });
});

// ---------------------------------------------------------------------------------------------
// The real launcher (compiled like `npm start` does) in a child process.

interface Ready {
  apiUrl: string;
  healthUrl: string;
  docsUrl: string;
  temporalUiUrl?: string;
}

interface Launched {
  child: ChildProcess;
  ready: Promise<Ready>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

let outDir = '';
const launched: Launched[] = [];
/** The suite's CLI (global setup ensured it: cached, or built once with Go). */
let temporalCli = '';
function launcherEnv(dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The suite's own Postgres/Temporal (global setup) must not leak in: the launcher starts its own.
  for (const key of Object.keys(env)) {
    if (/^(TILLFLOW_|TEMPORAL_|DATABASE_URL$|PORT$|HOST$|PUBLIC_BASE_URL$)/.test(key)) delete env[key];
  }
  return {
    ...env,
    TILLFLOW_DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...(temporalCli ? { TEMPORAL_CLI: temporalCli } : {}),
    ...extra,
  };
}

function launch(dataDir: string, extra: NodeJS.ProcessEnv = {}): Launched {
  const child = spawn(process.execPath, [path.join(outDir, 'bin', 'start.js')], {
    cwd: ROOT,
    env: launcherEnv(dataDir, extra),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let pending = '';
  let onReady: (r: Ready) => void = () => undefined;
  const ready = new Promise<Ready>((resolve) => (onReady = resolve));
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as Ready & { msg?: string };
        if (entry.msg === 'tillflow ready') onReady(entry);
      } catch {
        /* not a log line */
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const run: Launched = {
    child,
    exit,
    output: () => out,
    ready: Promise.race([
      ready,
      exit.then(({ code, signal }) => {
        throw new Error(`launcher exited (${code ?? signal}) before it was ready:\n${out.slice(-4000)}`);
      }),
      new Promise<never>((_, reject) => {
        setTimeout(() => reject(new Error(`launcher not ready after 60 s:\n${out.slice(-4000)}`)), 60_000).unref();
      }),
    ]),
  };
  run.ready.catch(() => undefined); // only some tests wait for it
  launched.push(run);
  return run;
}

function readPid(file: string): number {
  return Number.parseInt(fs.readFileSync(file, 'utf8').split('\n')[0]!, 10);
}

function childPids(dataDir: string): { postgres: number; temporal: number } {
  return {
    postgres: readPid(path.join(dataDir, 'postgres', 'postmaster.pid')),
    temporal: readPid(path.join(dataDir, 'temporal', 'temporal.pid')),
  };
}

async function call(ready: Ready, method: string, route: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(ready.apiUrl + route, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

async function cashierToken(ready: Ready): Promise<string> {
  const res = await fetch(ready.apiUrl + '/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pin: '3456' }) });
  return ((await res.json()) as { token: string }).token;
}

async function expectHealthy(ready: Ready): Promise<void> {
  const res = await fetch(ready.apiUrl + '/health');
  const body = (await res.json()) as { status: string; checks: Record<string, string> };
  expect({ status: res.status, body: body.status, checks: body.checks }).toEqual({
    status: 200,
    body: 'healthy',
    checks: { database: 'ok', temporal: 'ok' },
  });
}

async function stopAndExpectClean(run: Launched, pids: { postgres: number; temporal: number }): Promise<void> {
  run.child.kill('SIGTERM');
  const exit = await run.exit;
  if (exit.code !== 0) throw new Error(`launcher exited ${exit.code ?? exit.signal}:\n${run.output().slice(-4000)}`);
  expect(exit).toEqual({ code: 0, signal: null });
  expect({ postgres: isAlive(pids.postgres), temporal: isAlive(pids.temporal) }).toEqual({ postgres: false, temporal: false });
}

describe('launcher (npm start)', () => {
  beforeAll(async () => {
    temporalCli = process.env.TILLFLOW_TEST_TEMPORAL_CLI || (await ensureTemporalCli(cfg)).path;
    // Compile once, as `npm run build` does, to a private dir (not dist/, which `npm start` may be
    // using). Type checking is `npm run typecheck`'s job: --noCheck only emits, which is faster.
    outDir = tmpDir('tillflow-dist-');
    const tsc = spawnSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json'), '--outDir', outDir, '--noCheck'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    if (!fs.existsSync(path.join(outDir, 'bin', 'start.js'))) {
      throw new Error(`tsc produced no bin/start.js:\n${tsc.stdout}\n${tsc.stderr}`);
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(outDir, 'node_modules'));
    fs.copyFileSync(path.join(ROOT, 'temporal-dev.yml'), path.join(outDir, 'temporal-dev.yml'));
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(outDir, 'package.json'));
  }, 120_000);

  afterAll(async () => {
    for (const run of launched) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    for (const dir of tmpDirs) {
      for (const file of [path.join(dir, 'postgres', 'postmaster.pid'), path.join(dir, 'temporal', 'temporal.pid')]) {
        try {
          process.kill(readPid(file), 'SIGKILL');
        } catch {
          /* not running */
        }
      }
    }
    await sleep(200);
    for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints a configuration error without a stack trace and exits 1', async () => {
    const bad = launch(tmpDir('tillflow-data-'), { PORT: 'not-a-port' });
    expect((await bad.exit).code).toBe(1);
    expect(bad.output()).toContain('PORT must be');
    expect(bad.output()).not.toMatch(/^\s+at /m);

    const file = path.join(tmpDir('tillflow-cli-'), 'temporal');
    fs.writeFileSync(file, 'not a program', { mode: 0o644 });
    const noCli = launch(tmpDir('tillflow-data-'), { TEMPORAL_CLI: file });
    expect((await noCli.exit).code).toBe(1);
    expect(noCli.output()).toContain(`TEMPORAL_CLI=${file} is not an executable file`);
    expect(noCli.output()).not.toMatch(/^\s+at /m);
  });

  it('starts Postgres, Temporal, worker and API; a cashier logs in; SIGTERM stops every child and exits 0', async () => {
    const dataDir = tmpDir('tillflow-data-');
    const run = launch(dataDir);
    const ready = await run.ready;
    await expectHealthy(ready);
    expect(ready.docsUrl).toBe(ready.apiUrl + '/docs');
    expect(ready.temporalUiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(run.output()).toMatch(/Cashier\s+3456\s+cashier/);
    expect(run.output()).toContain('WARNING');

    const login = await fetch(ready.apiUrl + '/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pin: '3456' }),
    });
    const body = (await login.json()) as { token?: string };
    expect(login.status).toBe(200);
    expect(typeof body.token).toBe('string');

    const pids = childPids(dataDir);
    expect({ postgres: isAlive(pids.postgres), temporal: isAlive(pids.temporal) }).toEqual({ postgres: true, temporal: true });
    await stopAndExpectClean(run, pids);
  }, 90_000);

  it('comes back up on the same data dir after the launcher was killed with SIGKILL, open orders intact', async () => {
    const dataDir = tmpDir('tillflow-data-');
    const first = launch(dataDir);
    const firstReady = await first.ready;
    const token = await cashierToken(firstReady);
    const open = await call(firstReady, 'POST', '/api/v1/orders', token, { type: 'dine_in', table: '9' });
    expect(open.status).toBe(201);
    const stale = childPids(dataDir);
    first.child.kill('SIGKILL');
    await first.exit;
    // The premise: kill -9 leaves the children behind (Postgres at least; Temporal may die of SIGPIPE).
    expect(isAlive(stale.postgres)).toBe(true);

    const second = launch(dataDir);
    const ready = await second.ready;
    await expectHealthy(ready);
    expect({ postgres: isAlive(stale.postgres), temporal: isAlive(stale.temporal) }).toEqual({ postgres: false, temporal: false });
    const fresh = childPids(dataDir);
    expect(fresh.postgres).not.toBe(stale.postgres);

    // The open order survived in Temporal's SQLite file and keeps taking changes.
    const again = await cashierToken(ready);
    const order = await call(ready, 'GET', `/api/v1/orders/${open.body.id}`, again);
    expect(order.body).toMatchObject({ id: open.body.id, status: 'open', table: '9', orderNumber: open.body.orderNumber });
    const menu = await call(ready, 'GET', '/api/v1/catalog/menu', again);
    const croissant = menu.body.categories.flatMap((c: any) => c.items).find((i: any) => i.name === 'Croissant');
    const added = await call(ready, 'POST', `/api/v1/orders/${open.body.id}/lines`, again, { itemId: croissant.id, quantity: 1 });
    expect(added.body).toMatchObject({ version: open.body.version + 1, lines: [expect.objectContaining({ name: 'Croissant' })] });
    await stopAndExpectClean(second, fresh);
  }, 90_000);
});
