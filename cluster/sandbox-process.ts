import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export interface SandboxProcess {
  child: ChildProcess;
  env: Record<string, string>;
  controlUrl: string;
  charges(): Promise<any>;
  setWebhookBase(url: string): Promise<void>;
  /** SIGTERM and wait for the exit (the state file is written on the way out). */
  stop(): Promise<void>;
}

/** Runs `npm run sandbox`'s entry point (bin/sandbox.ts) as its own process and resolves once it is ready. */
export async function startSandboxProcess(
  dir: string,
  portBase: number,
  extraEnv: Record<string, string> = {},
): Promise<SandboxProcess> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', path.join(__dirname, '..', 'bin', 'sandbox.ts')], {
    env: { ...process.env, TILLFLOW_SANDBOX_DIR: dir, TILLFLOW_SANDBOX_PORT: String(portBase), ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sandbox did not start:\n${output.slice(-3000)}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('sandbox ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sandbox exited ${code}:\n${output.slice(-3000)}`));
    });
  });
  const controlUrl = `http://127.0.0.1:${portBase}`;
  const env = (await (await fetch(`${controlUrl}/sandbox/env`)).json()) as Record<string, string>;
  return {
    child,
    env,
    controlUrl,
    charges: async () => (await fetch(`${controlUrl}/sandbox/charges`)).json(),
    async setWebhookBase(url) {
      const res = await fetch(`${controlUrl}/sandbox/webhook-base`, { method: 'PUT', body: JSON.stringify({ url }) });
      if (res.status !== 200) throw new Error(`webhook-base: ${res.status}`);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
