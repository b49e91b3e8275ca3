import { spawn, ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { Harness } from './harness';

/**
 * Runs the real entry point as a worker process (TILLFLOW_ROLE=worker) against a harness's
 * database, Temporal and task queue, and resolves once it logs that it is ready.
 */
export async function startWorkerProcess(
  h: Harness,
  dataDir: string,
  env: Record<string, string> = {},
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['-r', '@swc-node/register', path.join(__dirname, '..', '..', 'bin', 'start.ts')],
    {
      env: {
        ...process.env,
        TILLFLOW_ROLE: 'worker',
        DATABASE_URL: h.databaseUrl,
        TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
        TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE,
        TILLFLOW_TASK_QUEUE: h.taskQueue,
        TILLFLOW_DATA_DIR: dataDir,
        TILLFLOW_TOKEN_SECRET: h.deps.config.tokenSecret,
        LOG_LEVEL: 'info',
        NODE_ENV: 'test',
        // These workers are SIGKILLed: they start no payment simulators (a test passes gateways via env).
        TILLFLOW_PAYMENTS_SANDBOX: 'false',
        // The suite's bundle (global-setup): bundling again in every worker took over 30 s under CI's load.
        TILLFLOW_WORKFLOW_BUNDLE: process.env.TILLFLOW_TEST_WORKFLOW_BUNDLE ?? '',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  started.add(child);
  child.once('exit', () => started.delete(child));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output.slice(-3000)}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('tillflow ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited ${code}:\n${output.slice(-3000)}`)));
  });
  return child;
}

const started = new Set<ChildProcess>();

/** Kills every worker process a test started and has not killed itself. */
export async function stopWorkerProcesses(): Promise<void> {
  await Promise.all([...started].map(sigkill));
}

export function sigkill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
