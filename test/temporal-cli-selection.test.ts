import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadDevServerConfig } from '../platform/temporal-dev-config';
import { CliAcquirers, cliCacheDir, ensureTemporalCli } from '../platform/temporal-cli';
import { downloadTemporalCliWithSdk } from '../platform/temporal-cli-download';

// Which Temporal CLI `npm start` uses, in order: TEMPORAL_CLI, PATH, the cache, a Go build, the
// SDK's download. Every candidate here is a fake executable in a temp dir, and the build and the
// download are fakes that record being called, so no test depends on this machine's tools.

const cfg = loadDevServerConfig();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-cli-select-'));
  dirs.push(d);
  return d;
}

function fakeExecutable(file: string, output = 'temporal version 1.5.1'): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\necho "${output}"\n`, { mode: 0o755 });
  return file;
}

/** A machine: PATH holds only /bin-like basics (sh) plus the given fake dirs; its own cache base. */
function machine(opts: { onPath?: string[]; cached?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const cacheBase = tmp();
  const env: NodeJS.ProcessEnv = {
    PATH: [...(opts.onPath ?? [])].join(path.delimiter),
    XDG_CACHE_HOME: cacheBase,
    ...opts.env,
  };
  const cached = path.join(cliCacheDir(cfg, env), 'temporal');
  if (opts.cached) fakeExecutable(cached);
  return { env, cached };
}

function dirWith(name: string): string {
  const d = tmp();
  fakeExecutable(path.join(d, name), name === 'go' ? 'go version go1.24' : 'temporal version 1.5.1');
  return d;
}

/** Fake acquirers that write a working fake CLI to the target, or fail, and record each call. */
function fakes(fail: { build?: boolean; download?: boolean } = {}) {
  const calls: string[] = [];
  const acquirers: CliAcquirers = {
    build: async (_go, _cfg, target) => {
      calls.push('build');
      if (fail.build) throw new Error('proxy.golang.org unreachable');
      fakeExecutable(target);
    },
    download: async (_cfg, target) => {
      calls.push('download');
      if (fail.download) throw new Error('temporal.download unreachable');
      fakeExecutable(target);
    },
  };
  return { calls, acquirers };
}

const quiet = () => undefined;

describe('Temporal CLI selection order', () => {
  it('takes TEMPORAL_CLI over PATH and the cache', async () => {
    const explicit = fakeExecutable(path.join(tmp(), 'my-temporal'));
    const { env } = machine({ onPath: [dirWith('temporal')], cached: true, env: { TEMPORAL_CLI: explicit } });
    const { calls, acquirers } = fakes();
    await expect(ensureTemporalCli(cfg, env, acquirers, quiet)).resolves.toEqual({
      path: explicit,
      source: 'TEMPORAL_CLI',
    });
    expect(calls).toEqual([]);
  });

  it('takes `temporal` on PATH over the cache', async () => {
    const binDir = dirWith('temporal');
    const { env } = machine({ onPath: [binDir], cached: true });
    const { calls, acquirers } = fakes();
    await expect(ensureTemporalCli(cfg, env, acquirers, quiet)).resolves.toEqual({
      path: path.join(binDir, 'temporal'),
      source: 'PATH',
    });
    expect(calls).toEqual([]);
  });

  it('takes the cache before building or downloading', async () => {
    const { env, cached } = machine({ onPath: [dirWith('go')], cached: true });
    const { calls, acquirers } = fakes();
    await expect(ensureTemporalCli(cfg, env, acquirers, quiet)).resolves.toEqual({ path: cached, source: 'cache' });
    expect(calls).toEqual([]);
  });

  it('builds with Go into the cache when Go is installed, without downloading', async () => {
    const { env, cached } = machine({ onPath: [dirWith('go')] });
    const { calls, acquirers } = fakes();
    await expect(ensureTemporalCli(cfg, env, acquirers, quiet)).resolves.toEqual({ path: cached, source: 'built' });
    expect(calls).toEqual(['build']);
  });

  it('downloads through the SDK into the cache on a machine without Go, and finds it there next time', async () => {
    const { env, cached } = machine();
    const { calls, acquirers } = fakes();
    await expect(ensureTemporalCli(cfg, env, acquirers, quiet)).resolves.toEqual({
      path: cached,
      source: 'downloaded',
    });
    expect(calls).toEqual(['download']);
    await expect(ensureTemporalCli(cfg, env, acquirers, quiet)).resolves.toEqual({ path: cached, source: 'cache' });
    expect(calls).toEqual(['download']);
  });

  it('downloads when the Go build fails', async () => {
    const { env, cached } = machine({ onPath: [dirWith('go')] });
    const { calls, acquirers } = fakes({ build: true });
    await expect(ensureTemporalCli(cfg, env, acquirers, quiet)).resolves.toEqual({
      path: cached,
      source: 'downloaded',
    });
    expect(calls).toEqual(['build', 'download']);
  });

  it('gives up with every reason and the ways out when nothing works', async () => {
    const { env } = machine();
    const { acquirers } = fakes({ download: true });
    const failure = ensureTemporalCli(cfg, env, acquirers, quiet);
    await expect(failure).rejects.toThrow(
      /Go is not installed; downloading it through the Temporal SDK failed: temporal.download unreachable/,
    );
    await expect(failure).rejects.toThrow(/TEMPORAL_CLI.*TEMPORAL_ADDRESS/);
  });
});

describe("the SDK's cached download", () => {
  /** Stands in for @temporalio/worker: its ephemeral server "downloads" as the real one names the file. */
  function fakeSdk(): { module: string; seenConfig: string } {
    const dir = tmp();
    const seenConfig = path.join(dir, 'config.json');
    const module = path.join(dir, 'fake-worker.js');
    fs.writeFileSync(
      module,
      `const fs = require('fs'), path = require('path');
exports.Runtime = { instance: () => ({
  async createEphemeralServer(config) {
    fs.writeFileSync(${JSON.stringify(seenConfig)}, JSON.stringify(config));
    const exe = path.join(config.exe.downloadDir, 'temporal-cli-' + config.exe.version);
    fs.writeFileSync(exe, '#!/bin/sh\\necho "temporal version 1.5.1"\\n', { mode: 0o755 });
    return {};
  },
  async shutdownEphemeralServer() {},
}) };
`,
    );
    return { module, seenConfig };
  }

  it('asks the SDK for the pinned CLI version as a cached download and installs what it fetched at the target', async () => {
    const sdk = fakeSdk();
    const target = path.join(tmp(), 'cache', 'temporal');
    await downloadTemporalCliWithSdk(cfg, target, process.env, quiet, sdk.module);
    const config = JSON.parse(fs.readFileSync(sdk.seenConfig, 'utf8'));
    expect(config).toMatchObject({ type: 'dev-server', exe: { type: 'cached-download', version: cfg.cli.version } });
    expect(fs.readFileSync(target, 'utf8')).toContain('temporal version 1.5.1');
    expect(fs.statSync(target).mode & 0o111).not.toBe(0);
  });
});
