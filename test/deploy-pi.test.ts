import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { isAlive } from '../platform/processes';
import {
  buildLauncher,
  cashierToken,
  call,
  childPids,
  cleanUpLaunchers,
  expectHealthy,
  launch,
  stopAndExpectClean,
  tmpDir,
} from './support/launcher';
import { closedOrder, closedOrderIds, openOrder } from './support/launcher-orders';

// The Raspberry Pi install (deploy/): the systemd unit and the data-dir check it runs first. No
// systemd runs here, so the unit is checked with `systemd-analyze verify` and its settings are
// applied by hand: its Environment, its ExecStartPre, `node dist/bin/start.js` killed with -9 and
// started again as Restart=on-failure does, and stopped with its KillSignal.

const ROOT = path.resolve(__dirname, '..');
const UNIT = path.join(ROOT, 'deploy', 'tillflow.service');
const CHECK = path.join(ROOT, 'deploy', 'check-data-dir.sh');
/** Where the README's install steps put the checkout; replaced by this one to run the unit's commands. */
const INSTALL_DIR = '/opt/tillflow';

/** The unit as `Section.Key` → every value it is given (Environment= and the like repeat). */
function unitSettings(): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of fs.readFileSync(UNIT, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) section = header[1]!;
    else {
      const [key, ...rest] = line.split('=');
      const name = `${section}.${key}`;
      settings.set(name, [...(settings.get(name) ?? []), rest.join('=')]);
    }
  }
  return settings;
}
const unit = unitSettings();
const one = (key: string): string => {
  const values = unit.get(key) ?? [];
  if (values.length !== 1) throw new Error(`${key}: expected one value, found ${JSON.stringify(values)}`);
  return values[0]!;
};
const unitEnvironment = (): Record<string, string> =>
  Object.fromEntries((unit.get('Service.Environment') ?? []).map((kv) => [kv.split('=')[0]!, kv.split('=')[1]!]));

/** Runs the data-dir check as the unit's ExecStartPre would (optionally in a mount namespace). */
function check(args: string[], opts: { inMountNamespace?: string; as?: number } = {}) {
  const command = opts.inMountNamespace
    ? ['unshare', ['-rm', 'sh', '-c', `${opts.inMountNamespace} && exec "$0" "$@"`, CHECK, ...args]]
    : opts.as !== undefined
      ? ['setpriv', [`--reuid=${opts.as}`, `--regid=${opts.as}`, '--clear-groups', CHECK, ...args]]
      : [CHECK, args];
  const res = spawnSync(command[0] as string, command[1] as string[], { encoding: 'utf8' });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('deploy/tillflow.service', () => {
  it('passes `systemd-analyze verify` without a warning', () => {
    // verify checks that the commands exist, so it reads the unit as installed in this checkout.
    const dir = tmpDir('tillflow-unit-');
    const installed = path.join(dir, 'tillflow.service');
    fs.writeFileSync(installed, fs.readFileSync(UNIT, 'utf8').replaceAll(INSTALL_DIR, ROOT));
    const res = spawnSync('systemd-analyze', ['verify', installed], { encoding: 'utf8' });
    expect({ code: res.status, output: (res.stdout + res.stderr).trim() }).toEqual({ code: 0, output: '' });
  });

  it('starts only with the data dir mounted, checked first, as a dedicated user', () => {
    const dataDir = unitEnvironment().TILLFLOW_DATA_DIR;
    expect(one('Unit.RequiresMountsFor')).toBe(dataDir);
    expect(one('Service.ExecStartPre')).toBe(`${INSTALL_DIR}/deploy/check-data-dir.sh --require-mount ${dataDir}`);
    expect(one('Service.User')).not.toMatch(/^(root|0)$/);
    expect(one('Service.ExecStart')).toBe('/usr/bin/node dist/bin/start.js');
  });

  it('restarts on failure and stops cleanly: SIGTERM to the launcher alone, more time than its own stop deadline', () => {
    expect(one('Service.Restart')).toBe('on-failure');
    expect(one('Service.KillSignal')).toBe('SIGTERM');
    expect(one('Service.KillMode')).toBe('mixed');
    const launcherDeadlineS =
      Number(
        /STOP_DEADLINE_MS = ([\d_]+)/
          .exec(fs.readFileSync(path.join(ROOT, 'bin', 'start.ts'), 'utf8'))![1]!
          .replaceAll('_', ''),
      ) / 1000;
    expect(Number(one('Service.TimeoutStopSec'))).toBeGreaterThan(launcherDeadlineS);
  });
});

describe('deploy/check-data-dir.sh', () => {
  it('refuses a data dir that does not exist, asking whether the drive is mounted', () => {
    const missing = path.join(tmpDir('tillflow-check-'), 'usb');
    expect(check(['--require-mount', missing])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining(
        `the data dir ${missing} does not exist. Is the USB drive plugged in and mounted?`,
      ),
    });
  });

  it('refuses a file in place of the data dir', () => {
    const file = path.join(tmpDir('tillflow-check-'), 'usb');
    fs.writeFileSync(file, '');
    expect(check([file])).toMatchObject({ code: 1, stderr: expect.stringContaining('is not a directory') });
  });

  it('refuses a data dir with nothing mounted on it when a mount is required (the SD card underneath)', () => {
    const dir = tmpDir('tillflow-check-');
    expect(check(['--require-mount', dir])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining(`nothing is mounted at ${dir}`),
    });
  });

  it('refuses a read-only mounted data dir (a drive remounted read-only after errors)', () => {
    const dir = tmpDir('tillflow-check-');
    expect(check(['--require-mount', dir], { inMountNamespace: `mount -t tmpfs -o ro tmpfs ${dir}` })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining(`the data dir ${dir} is read-only`),
    });
  });

  it('refuses a data dir the service user cannot write to, naming the user', () => {
    const dir = tmpDir('tillflow-check-'); // root's, mode 0755
    expect(check([dir], { as: 65534 })).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/cannot write to the data dir .* as nobody: Permission denied/),
    });
  });

  it('accepts a writable mounted data dir and leaves nothing in it', () => {
    const dir = tmpDir('tillflow-check-');
    const res = check(['--require-mount', dir], { inMountNamespace: `mount -t tmpfs tmpfs ${dir}` });
    expect(res).toMatchObject({ code: 0, stdout: `tillflow: data dir ${dir} is ready\n` });
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('kill -9 under the unit', () => {
  beforeAll(buildLauncher, 120_000);
  afterAll(cleanUpLaunchers);

  /**
   * The unit's environment with its data dir here, and its check before each start as systemd runs
   * it, but without --require-mount: a temp dir is no mount point (the flag is tested above).
   */
  function startAsTheUnit(dataDir: string) {
    const pre = check([dataDir]);
    if (pre.code !== 0) throw new Error(`ExecStartPre failed: ${pre.stderr}`);
    const { XDG_CACHE_HOME: _cache, ...env } = unitEnvironment();
    return launch(dataDir, { ...env, TILLFLOW_DATA_DIR: dataDir });
  }

  it('comes back after a kill -9 and a restart on the same data dir with the orders made before it', async () => {
    const dataDir = tmpDir('tillflow-pi-');
    const first = startAsTheUnit(dataDir);
    const firstReady = await first.ready;
    const token = await cashierToken(firstReady);
    const closed = await closedOrder(firstReady, token);
    const open = await openOrder(firstReady, token);
    const stale = childPids(dataDir);
    first.child.kill('SIGKILL');
    expect(await first.exit).toEqual({ code: null, signal: 'SIGKILL' }); // a failure: Restart=on-failure starts it again

    const second = startAsTheUnit(dataDir);
    const ready = await second.ready;
    await expectHealthy(ready);
    expect({ postgres: isAlive(stale.postgres), temporal: isAlive(stale.temporal) }).toEqual({
      postgres: false,
      temporal: false,
    });
    const again = await cashierToken(ready);
    expect(await closedOrderIds(ready, again)).toContain(closed.id);
    const stillOpen = await call(ready, 'GET', `/api/v1/orders/${open.id}`, again);
    expect(stillOpen.body).toMatchObject({ id: open.id, status: 'open', orderNumber: open.orderNumber });
    // KillSignal=SIGTERM: a clean stop, exit 0 (systemd does not restart it), nothing left running.
    await stopAndExpectClean(second, childPids(dataDir));
  }, 180_000);
});
