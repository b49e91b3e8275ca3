import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { loadDevServerConfig } from '../platform/temporal-dev-config';
import { ensureTemporalCli } from '../platform/temporal-cli';
import { startTemporalDevServer } from '../platform/temporal-server';
import { stopPid } from '../platform/processes';
import { until } from './support/payments';

/**
 * An API told to stop while Temporal is down has calls retrying UNAVAILABLE from timers. Its
 * connection must not close under such a timer: the retry would throw "Channel has been shut
 * down" outside any promise, an uncaught exception that ends the process (or fails whichever
 * Jest suite runs next in the worker).
 */
test('closing a connection while a call retries against a stopped Temporal ends the call, not the process', async () => {
  const cfg = loadDevServerConfig();
  const cli = process.env.TILLFLOW_TEST_TEMPORAL_CLI ?? (await ensureTemporalCli(cfg)).path;
  const server = await startTemporalDevServer({ cliPath: cli, cfg, randomPorts: true, headless: true });
  const child = spawn(
    process.execPath,
    ['-r', '@swc-node/register', path.join(__dirname, 'fixtures', 'close-while-retrying.ts'), server.address],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    await until(
      async () => out,
      (o) => o.includes('connected'),
      30_000,
    );
    await stopPid(server.pid, 'SIGKILL');
    child.stdin.write('go\n');
    const code = await exited;

    expect(out).not.toContain('Channel has been shut down');
    expect(code).toBe(0);
    expect(out).toMatch(/call failed with code 14/); // UNAVAILABLE, as the caller sees it
  } finally {
    child.kill('SIGKILL');
    await server.stop();
  }
}, 60_000);
