import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadDevServerConfig } from '../../platform/temporal-dev-config';
import { ensureTemporalCli } from '../../platform/temporal-cli';
import { isAlive } from '../../platform/processes';

/**
 * The real launcher (compiled like `npm start` does) in a child process, for the launcher tests:
 * call `buildLauncher()` in beforeAll and `cleanUpLaunchers()` in afterAll.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const cfg = loadDevServerConfig();
const tmpDirs: string[] = [];

export function tmpDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755); // embedded Postgres runs as the postgres user when we are root
  tmpDirs.push(dir);
  return dir;
}

export interface Ready {
  apiUrl: string;
  healthUrl: string;
  docsUrl: string;
  temporalUiUrl?: string;
}

export interface Launched {
  child: ChildProcess;
  ready: Promise<Ready>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

let outDir = '';
const launched: Launched[] = [];
/** The suite's CLI (global setup ensured it: cached, or built once with Go). */
let temporalCli = '';
export function launcherEnv(dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
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

export function launch(dataDir: string, extra: NodeJS.ProcessEnv = {}): Launched {
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

export function readPid(file: string): number {
  return Number.parseInt(fs.readFileSync(file, 'utf8').split('\n')[0]!, 10);
}

export function childPids(dataDir: string): { postgres: number; temporal: number } {
  return {
    postgres: readPid(path.join(dataDir, 'postgres', 'postmaster.pid')),
    temporal: readPid(path.join(dataDir, 'temporal', 'temporal.pid')),
  };
}

export async function call(
  ready: Ready,
  method: string,
  route: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(ready.apiUrl + route, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

export async function cashierToken(ready: Ready): Promise<string> {
  const res = await fetch(ready.apiUrl + '/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ pin: '3456' }),
  });
  return ((await res.json()) as { token: string }).token;
}

export async function expectHealthy(ready: Ready): Promise<void> {
  const res = await fetch(ready.apiUrl + '/health');
  const body = (await res.json()) as { status: string; checks: Record<string, string> };
  expect({ status: res.status, body: body.status, checks: body.checks }).toEqual({
    status: 200,
    body: 'healthy',
    checks: { database: 'ok', temporal: 'ok' },
  });
}

export async function stopAndExpectClean(run: Launched, pids: { postgres: number; temporal: number }): Promise<void> {
  run.child.kill('SIGTERM');
  const exit = await run.exit;
  if (exit.code !== 0) throw new Error(`launcher exited ${exit.code ?? exit.signal}:\n${run.output().slice(-4000)}`);
  expect(exit).toEqual({ code: 0, signal: null });
  expect({ postgres: isAlive(pids.postgres), temporal: isAlive(pids.temporal) }).toEqual({
    postgres: false,
    temporal: false,
  });
}

/** Compiles the project to a private dir and finds the suite's Temporal CLI. */
export async function buildLauncher(): Promise<void> {
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
}

/** A compiled bin/ script of the launcher's build (after buildLauncher), e.g. `backup.js`. */
export const builtBin = (name: string) => path.join(outDir, 'bin', name);

/** The Temporal CLI the launched processes use. */
export const suiteTemporalCli = () => temporalCli;

/** Kills whatever a test left running and removes the temporary dirs. */
export async function cleanUpLaunchers(): Promise<void> {
  for (const run of launched)
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
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
}
