import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

/**
 * The real entry point (bin/start.ts) as its own process with this environment, resolved once it
 * logs "tillflow ready". The wait is long: a worker bundles the workflow code on start, which on
 * a busy 2-core machine takes a while. `onOutput` sees every chunk it prints (bin/cluster.ts shows them).
 */
export async function startTillflowProcess(
  env: Record<string, string | undefined>,
  opts: { timeoutMs?: number; onOutput?: (chunk: string) => void } = {},
): Promise<ChildProcess> {
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const child = spawn(process.execPath, ['-r', '@swc-node/register', path.join(__dirname, '..', 'bin', 'start.ts')], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (opts.onOutput) {
    child.stdout!.on('data', (c: Buffer) => opts.onOutput!(c.toString()));
    child.stderr!.on('data', (c: Buffer) => opts.onOutput!(c.toString()));
  }
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${env.TILLFLOW_ROLE ?? 'tillflow'} did not start:\n${output.slice(-3000)}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (output.includes('tillflow ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${env.TILLFLOW_ROLE ?? 'tillflow'} exited ${code ?? signal}:\n${output.slice(-3000)}`));
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
