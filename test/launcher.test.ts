import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadDevServerConfig } from '../platform/temporal-dev-config';
import { cliCacheDir, ensureTemporalCli, findTemporalCli } from '../platform/temporal-cli';
import { isAlive } from '../platform/processes';
import {
  buildLauncher,
  call,
  cashierToken,
  childPids,
  cleanUpLaunchers,
  expectHealthy,
  launch,
  stopAndExpectClean,
  tmpDir,
} from './support/launcher';

const cfg = loadDevServerConfig();

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** PATH without any directory holding `temporal` or `go`, so nothing can be found there or built. */
function pathWithout(...names: string[]): string {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => dir && !names.some((n) => isExecutable(path.join(dir, n))))
    .join(path.delimiter);
}

describe('Temporal CLI lookup', () => {
  it('reuses the cached CLI when TEMPORAL_CLI is unset and PATH has none, without building', async () => {
    let cacheBase = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    if (!isExecutable(path.join(cliCacheDir(cfg, { XDG_CACHE_HOME: cacheBase }), 'temporal'))) {
      // This machine has its CLI on PATH or in TEMPORAL_CLI, not in the cache: use a stand-in.
      cacheBase = tmpDir('tillflow-cache-');
      const dir = cliCacheDir(cfg, { XDG_CACHE_HOME: cacheBase });
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'temporal'), '#!/bin/sh\necho "temporal version 1.5.1"\n', { mode: 0o755 });
    }
    const env: NodeJS.ProcessEnv = {
      PATH: pathWithout('temporal', 'go'),
      HOME: os.homedir(),
      XDG_CACHE_HOME: cacheBase,
    };
    const cached = path.join(cliCacheDir(cfg, env), 'temporal');
    const mtime = fs.statSync(cached).mtimeMs;

    expect(findTemporalCli(cfg, env)).toEqual({ path: cached, source: 'cache' });
    // ensureTemporalCli would report source 'built' (and rewrite the binary) had it built one.
    await expect(ensureTemporalCli(cfg, env)).resolves.toEqual({ path: cached, source: 'cache' });
    expect(fs.statSync(cached).mtimeMs).toBe(mtime);
  });

  it('rejects a TEMPORAL_CLI that is not an executable file with a clear message', () => {
    const file = path.join(tmpDir('tillflow-cli-'), 'temporal');
    fs.writeFileSync(file, 'not a program', { mode: 0o644 });
    expect(() => findTemporalCli(cfg, { TEMPORAL_CLI: file, PATH: '' })).toThrow(
      `TEMPORAL_CLI=${file} is not an executable file`,
    );
    expect(() => findTemporalCli(cfg, { TEMPORAL_CLI: '/nonexistent/temporal', PATH: '' })).toThrow(
      /is not an executable file/,
    );
  });
});

describe('launcher (npm start)', () => {
  beforeAll(buildLauncher, 120_000);
  afterAll(cleanUpLaunchers);

  it('prints a configuration error without a stack trace and exits 1', async () => {
    const bad = launch(tmpDir('tillflow-data-'), { PORT: 'not-a-port' });
    expect((await bad.exit).code).toBe(1);
    expect(bad.output()).toContain('PORT must be');
    expect(bad.output()).not.toMatch(/^\s+at /m);

    const file = path.join(tmpDir('tillflow-cli-'), 'temporal');
    fs.writeFileSync(file, 'not a program', { mode: 0o644 });
    const noCli = launch(tmpDir('tillflow-data-'), { TEMPORAL_CLI: file });
    expect((await noCli.exit).code).toBe(1);
    expect(noCli.output()).toContain(`TEMPORAL_CLI=${file} is not an executable file`);
    expect(noCli.output()).not.toMatch(/^\s+at /m);
  });

  it('starts Postgres, Temporal, worker and API; a cashier logs in; SIGTERM stops every child and exits 0', async () => {
    const dataDir = tmpDir('tillflow-data-');
    const run = launch(dataDir);
    const ready = await run.ready;
    await expectHealthy(ready);
    expect(ready.docsUrl).toBe(ready.apiUrl + '/docs');
    expect(ready.temporalUiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(run.output()).toMatch(/Cashier\s+3456\s+cashier/);
    expect(run.output()).toContain('WARNING');

    const login = await fetch(ready.apiUrl + '/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pin: '3456' }),
    });
    const body = (await login.json()) as { token?: string };
    expect(login.status).toBe(200);
    expect(typeof body.token).toBe('string');

    const pids = childPids(dataDir);
    expect({ postgres: isAlive(pids.postgres), temporal: isAlive(pids.temporal) }).toEqual({
      postgres: true,
      temporal: true,
    });
    await stopAndExpectClean(run, pids);
  }, 90_000);

  it('comes back up on the same data dir after the launcher was killed with SIGKILL, open orders intact', async () => {
    const dataDir = tmpDir('tillflow-data-');
    const first = launch(dataDir);
    const firstReady = await first.ready;
    const token = await cashierToken(firstReady);
    const open = await call(firstReady, 'POST', '/api/v1/orders', token, { type: 'dine_in', table: '9' });
    expect(open.status).toBe(201);
    const stale = childPids(dataDir);
    first.child.kill('SIGKILL');
    await first.exit;
    // The premise: kill -9 leaves the children behind (Postgres at least; Temporal may die of SIGPIPE).
    expect(isAlive(stale.postgres)).toBe(true);

    const second = launch(dataDir);
    const ready = await second.ready;
    await expectHealthy(ready);
    expect({ postgres: isAlive(stale.postgres), temporal: isAlive(stale.temporal) }).toEqual({
      postgres: false,
      temporal: false,
    });
    const fresh = childPids(dataDir);
    expect(fresh.postgres).not.toBe(stale.postgres);

    // The open order survived in Temporal's SQLite file and keeps taking changes.
    const again = await cashierToken(ready);
    const order = await call(ready, 'GET', `/api/v1/orders/${open.body.id}`, again);
    expect(order.body).toMatchObject({
      id: open.body.id,
      status: 'open',
      table: '9',
      orderNumber: open.body.orderNumber,
    });
    const menu = await call(ready, 'GET', '/api/v1/catalog/menu', again);
    const croissant = menu.body.categories.flatMap((c: any) => c.items).find((i: any) => i.name === 'Croissant');
    const added = await call(ready, 'POST', `/api/v1/orders/${open.body.id}/lines`, again, {
      itemId: croissant.id,
      quantity: 1,
    });
    expect(added.body).toMatchObject({
      version: open.body.version + 1,
      lines: [expect.objectContaining({ name: 'Croissant' })],
    });
    await stopAndExpectClean(second, fresh);
  }, 90_000);
});
