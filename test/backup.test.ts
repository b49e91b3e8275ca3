import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  buildLauncher,
  builtBin,
  call,
  cashierToken,
  childPids,
  cleanUpLaunchers,
  launch,
  launcherEnv,
  stopAndExpectClean,
  tmpDir,
} from './support/launcher';
import { closedOrder, closedOrderIds, openOrder } from './support/launcher-orders';

// `npm run backup -- <dir>` / `npm run restore -- <dir>` (the compiled bin/backup.js, as npm runs
// it) on real data dirs of the launcher: embedded PostgreSQL 18, the dev server's SQLite, the token secret.

beforeAll(buildLauncher, 120_000);
afterAll(cleanUpLaunchers);

function run(dataDir: string, args: string[]) {
  const res = spawnSync(process.execPath, [builtBin('backup.js'), ...args], {
    env: launcherEnv(dataDir),
    encoding: 'utf8',
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** A directory shaped like a stopped data dir, for the checks that need no real servers. */
function fakeDataDir(): string {
  const dir = tmpDir('tillflow-fake-data-');
  fs.mkdirSync(path.join(dir, 'postgres'));
  fs.mkdirSync(path.join(dir, 'temporal'));
  fs.writeFileSync(path.join(dir, 'postgres', 'PG_VERSION'), '18\n');
  fs.writeFileSync(path.join(dir, 'temporal', 'temporal.sqlite'), 'sqlite pages');
  fs.writeFileSync(path.join(dir, 'token-secret'), 's'.repeat(48));
  return dir;
}

it('restores a backup of a stopped data dir into a fresh one, where a start serves the orders and the same PINs', async () => {
  const dataDir = tmpDir('tillflow-data-');
  const first = launch(dataDir);
  const ready = await first.ready;
  const token = await cashierToken(ready);
  const closed = await closedOrder(ready, token);
  const open = await openOrder(ready, token);
  await stopAndExpectClean(first, childPids(dataDir));

  const backup = path.join(tmpDir('tillflow-backups-'), 'nightly');
  const taken = run(dataDir, [backup]);
  expect(taken).toMatchObject({ code: 0, stdout: expect.stringContaining(`to ${backup}`) });

  const fresh = path.join(tmpDir('tillflow-restored-'), 'data');
  expect(run(fresh, ['--restore', backup])).toMatchObject({ code: 0 });
  const second = launch(fresh);
  const restored = await second.ready;
  const again = await cashierToken(restored); // the demo PINs still work: the token secret came along
  expect(await closedOrderIds(restored, again)).toContain(closed.id);
  const stillOpen = await call(restored, 'GET', `/api/v1/orders/${open.id}`, again);
  expect(stillOpen.body).toMatchObject({ id: open.id, status: 'open', orderNumber: open.orderNumber });
  await stopAndExpectClean(second, childPids(fresh));
}, 240_000);

it('refuses to back up a data dir Tillflow is running on, saying to stop it first, and writes nothing', async () => {
  const dataDir = tmpDir('tillflow-data-');
  const running = launch(dataDir);
  await running.ready;
  const backup = path.join(tmpDir('tillflow-backups-'), 'now');
  expect(run(dataDir, [backup])).toMatchObject({
    code: 1,
    stderr: expect.stringMatching(/^tillflow: Tillflow is running on .*Stop it first/),
  });
  expect(fs.existsSync(backup) || fs.existsSync(`${backup}.partial`)).toBe(false);
  await stopAndExpectClean(running, childPids(dataDir));
}, 120_000);

it('refuses to restore over a data dir that is not empty', () => {
  const backup = path.join(tmpDir('tillflow-backups-'), 'b');
  expect(run(fakeDataDir(), [backup]).code).toBe(0);
  const inUse = fakeDataDir();
  expect(run(inUse, ['--restore', backup])).toMatchObject({
    code: 1,
    stderr: `tillflow: ${inUse} is not empty: restore into an empty data dir (move this one aside first)\n`,
  });
});

it('refuses a damaged backup and restores nothing of it', () => {
  const backup = path.join(tmpDir('tillflow-backups-'), 'b');
  expect(run(fakeDataDir(), [backup]).code).toBe(0);
  fs.appendFileSync(path.join(backup, 'temporal', 'temporal.sqlite'), 'bit rot');
  const target = path.join(tmpDir('tillflow-restored-'), 'data');
  expect(run(target, ['--restore', backup])).toMatchObject({
    code: 1,
    stderr: expect.stringContaining('is damaged: temporal/temporal.sqlite differs from its manifest'),
  });
  expect(fs.existsSync(target)).toBe(false);
});

it('refuses a directory that is not a backup', () => {
  const target = path.join(tmpDir('tillflow-restored-'), 'data');
  expect(run(target, ['--restore', tmpDir('tillflow-not-a-backup-')])).toMatchObject({
    code: 1,
    stderr: expect.stringContaining('is not a Tillflow backup'),
  });
});
