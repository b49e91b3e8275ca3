import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { loadDevServerConfig } from '../platform/temporal-dev-config';
import { ensureTemporalCli } from '../platform/temporal-cli';
import { freePort } from '../platform/processes';
import { startTemporalDevServer, DevServerHandle, PortTakenError } from '../platform/temporal-server';

/**
 * Launchers that start at the same moment (a Pi's service and a developer's `npm start`, or CI's
 * parallel launcher suites) all want temporal-dev.yml's port. The one that loses the bind must not
 * take the winner's server for its own: it would report ready, then find its own process dead and
 * fail every restart on the same port.
 */
const servers: DevServerHandle[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function cliPath(): Promise<string> {
  return process.env.TILLFLOW_TEST_TEMPORAL_CLI ?? (await ensureTemporalCli(loadDevServerConfig())).path;
}

test('two servers started at once on the same configured port each end up serving on a port of their own', async () => {
  const cli = await cliPath();
  const cfg = { ...loadDevServerConfig(), port: await freePort() };
  // The second start checks the port after the first has checked it but before its CLI binds it.
  const first = startTemporalDevServer({ cliPath: cli, cfg, headless: true });
  await sleep(50);
  const second = startTemporalDevServer({ cliPath: cli, cfg, headless: true });
  const started = await Promise.all([first, second]);
  servers.push(...started);
  await sleep(2_000); // a loser of the bind has exited by now

  expect(new Set(started.map((s) => s.address)).size).toBe(2);
  for (const server of started) {
    expect(await answersWhileRunning(server)).toBe(true);
  }
}, 120_000);

/** Whether the server answers on its address and its own process is the one still running. */
async function answersWhileRunning(server: DevServerHandle): Promise<boolean> {
  const gone = await Promise.race([server.exited().then(() => true), sleep(10).then(() => false)]);
  if (gone) return false;
  const connection = await Connection.connect({ address: server.address });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

/**
 * temporal-dev.yml's `ip` names an address of this machine (a Pi given a fixed LAN address). When
 * the machine no longer has it, binding fails with EADDRNOTAVAIL: the start must say so, not take
 * the ports for "in use", move to random ones and then fail with a port-taken error on a port
 * nothing holds.
 */
test('a configured address this machine does not have fails the start with the bind error', async () => {
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never assigned to a host.
  const cfg = { ...loadDevServerConfig(), ip: '192.0.2.1', port: await freePort() };
  const start = startTemporalDevServer({ cliPath: await cliPath(), cfg, headless: true });
  await expect(start).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
  await expect(start).rejects.not.toBeInstanceOf(PortTakenError);
}, 60_000);
