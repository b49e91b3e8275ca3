import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../platform/processes';
import {
  buildLauncher,
  call,
  cashierToken,
  childPids,
  cleanUpLaunchers,
  launch,
  stopAndExpectClean,
  suiteTemporalCli,
  tmpDir,
  type Ready,
} from './support/launcher';

/**
 * The launcher supervises the embedded PostgreSQL and the Temporal dev server it starts: one that
 * dies on its own (SIGKILL here) is started again on the same port and data dir, the API and the
 * worker reconnect, and one that cannot come back makes the launcher exit non-zero.
 */
beforeAll(buildLauncher, 120_000);
afterAll(cleanUpLaunchers);

/** Polls /health until it answers 200 healthy; throws with the last answer after 60 s. */
async function healthyAgain(ready: Ready): Promise<void> {
  let last = '';
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(250)) {
    const res = await fetch(ready.apiUrl + '/health').catch((err: Error) => ({
      status: 0,
      text: async () => err.message,
    }));
    last = `${res.status} ${await res.text()}`;
    if (res.status === 200) return;
  }
  throw new Error(`not healthy again: ${last}`);
}

/** Polls until the pid file names a live process other than `old`. */
async function restartedPid(read: () => number, old: number): Promise<number> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(250)) {
    const pid = (() => {
      try {
        return read();
      } catch {
        return NaN;
      }
    })();
    if (pid && pid !== old && isAlive(pid)) return pid;
  }
  throw new Error(`no new process replaced ${old}`);
}

it('restarts a SIGKILLed Postgres, then a SIGKILLed Temporal dev server; an open order survives and closes; nothing is orphaned', async () => {
  const dataDir = tmpDir('tillflow-data-');
  const run = launch(dataDir);
  const ready = await run.ready;
  const token = await cashierToken(ready);
  const menu = await call(ready, 'GET', '/api/v1/catalog/menu', token);
  const croissant = menu.body.categories.flatMap((c: any) => c.items).find((i: any) => i.name === 'Croissant');
  const open = await call(ready, 'POST', '/api/v1/orders', token, {
    type: 'takeaway',
    lines: [{ itemId: croissant.id, quantity: 1 }],
  });
  expect(open.status).toBe(201);
  const first = childPids(dataDir);

  process.kill(first.postgres, 'SIGKILL');
  const postgres = await restartedPid(() => childPids(dataDir).postgres, first.postgres);
  await healthyAgain(ready);

  process.kill(first.temporal, 'SIGKILL');
  const temporal = await restartedPid(() => childPids(dataDir).temporal, first.temporal);
  await healthyAgain(ready);

  const added = await call(ready, 'POST', `/api/v1/orders/${open.body.id}/lines`, token, {
    itemId: croissant.id,
    quantity: 1,
  });
  expect(added.body).toMatchObject({
    id: open.body.id,
    status: 'open',
    lines: [{ name: 'Croissant' }, { name: 'Croissant' }],
  });
  const balance = added.body.totals.balance;
  const paid = await fetch(`${ready.apiUrl}/api/v1/orders/${open.body.id}/payments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ method: 'cash', amount: balance, tendered: balance }),
  });
  expect(paid.status).toBe(201);
  expect(((await paid.json()) as any).order.status).toBe('closed');

  expect({ postgres: isAlive(first.postgres), temporal: isAlive(first.temporal) }).toEqual({
    postgres: false,
    temporal: false,
  });
  await stopAndExpectClean(run, { postgres, temporal });
}, 240_000);

it('exits non-zero, stopping everything it started, when a dead Temporal dev server cannot be restarted', async () => {
  const dataDir = tmpDir('tillflow-data-');
  // A CLI that works until the flag file exists, as a binary removed or broken under a running server would.
  const broken = path.join(dataDir, 'cli-broken');
  const cli = path.join(dataDir, 'temporal-wrapper');
  fs.writeFileSync(cli, `#!/bin/sh\n[ -e '${broken}' ] && exit 3\nexec '${suiteTemporalCli()}' "$@"\n`, {
    mode: 0o755,
  });
  const run = launch(dataDir, { TEMPORAL_CLI: cli });
  await run.ready;
  const pids = childPids(dataDir);
  fs.writeFileSync(broken, '');
  process.kill(pids.temporal, 'SIGKILL');

  const exit = await run.exit;
  expect(exit.code).not.toBe(0);
  expect(exit.code).not.toBeNull();
  expect(run.output()).toContain('Temporal dev server exited and could not be restarted');
  expect(isAlive(pids.postgres)).toBe(false);
}, 240_000);
