import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export interface StartOptions {
  timeoutMs?: number;
  /** Sees every chunk the process prints (bin/cluster.ts shows them). */
  onOutput?: (chunk: string) => void;
}

/**
 * The real entry point (bin/start.ts) as its own process with this environment, resolved once it
 * logs "tillflow ready". The wait is long: a worker bundles the workflow code on start, which on
 * a busy 2-core machine takes a while.
 */
export function startTillflowProcess(
  env: Record<string, string | undefined>,
  opts: StartOptions = {},
): Promise<ChildProcess> {
  return startScript(
    'start.ts',
    { LOG_LEVEL: 'info', ...env },
    'tillflow ready',
    env.TILLFLOW_ROLE ?? 'tillflow',
    opts,
  );
}

/**
 * `npm run cluster` without replicas (TILLFLOW_CLUSTER_REPLICAS=0) as its own process: the
 * embedded PostgreSQL cannot be loaded inside jest's module sandbox, and a separate process is
 * what an operator runs anyway. A first run builds the Temporal binaries: a long wait.
 */
export function startClusterProcess(dir: string, portBase: number, opts: StartOptions = {}): Promise<ChildProcess> {
  const env = { TILLFLOW_CLUSTER_DIR: dir, TILLFLOW_CLUSTER_PORT: String(portBase), TILLFLOW_CLUSTER_REPLICAS: '0' };
  // Not among the replicas killTillflowProcesses() SIGKILLs: it must stop its children itself (SIGTERM).
  return startScript('cluster.ts', env, 'cluster ready', 'cluster', { timeoutMs: 3_600_000, ...opts }, false);
}

/** node bin/<script> (TypeScript through @swc-node/register), resolved once it prints `ready`. */
async function startScript(
  script: string,
  env: Record<string, string | undefined>,
  ready: string,
  name: string,
  opts: StartOptions,
  tracked = true,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', path.join(__dirname, '..', 'bin', script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (opts.onOutput) {
    child.stdout!.on('data', (c: Buffer) => opts.onOutput!(c.toString()));
    child.stderr!.on('data', (c: Buffer) => opts.onOutput!(c.toString()));
  }
  if (tracked) {
    running.add(child);
    child.once('exit', () => running.delete(child));
  }
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start:\n${output.slice(-3000)}`)),
      opts.timeoutMs ?? 180_000,
    );
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited ${code ?? signal}:\n${output.slice(-3000)}`));
    });
  }).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  return child;
}

const running = new Set<ChildProcess>();

/** Ends a process: SIGTERM (graceful) or SIGKILL, and waits for its exit. */
export function endProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** Kills every process started here that is still running. */
export async function killTillflowProcesses(): Promise<void> {
  await Promise.all([...running].map((c) => endProcess(c, 'SIGKILL')));
}
