import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { DevServerConfig } from './temporal-dev-config';
import { answersVersion, installBinary, isExecutable } from './binaries';

/**
 * Run in a separate Node process: the SDK's Runtime is a per-process singleton, and the worker
 * later installs its own (with its metrics options), which fails once one exists. The SDK has no
 * "download only" call, so this starts an in-memory ephemeral dev server with a
 * `cached-download` executable (what @temporalio/testing does) and stops it again: the download
 * stays in `downloadDir`. argv: worker module path, native server config (JSON).
 */
const CHILD_SCRIPT = `
const { Runtime } = require(process.argv[1]);
const config = JSON.parse(process.argv[2]);
(async () => {
  const runtime = Runtime.instance();
  const server = await runtime.createEphemeralServer(config);
  await runtime.shutdownEphemeralServer(server);
})().then(() => process.exit(0), (err) => { process.stderr.write(String(err && err.message || err) + '\\n'); process.exit(1); });
`;

/** The native ephemeral-server config (@temporalio/testing's toNativeEphemeralServerConfig shape). */
function nativeDevServerConfig(cfg: DevServerConfig, downloadDir: string, sdkVersion: string): object {
  return {
    type: 'dev-server',
    exe: {
      type: 'cached-download',
      downloadDir,
      version: cfg.cli.version,
      ttl: 24 * 3600 * 1000,
      sdkName: 'sdk-typescript',
      sdkVersion,
    },
    namespace: 'default',
    ip: '127.0.0.1',
    port: null,
    uiPort: null,
    dbFilename: null,
    ui: false,
    log: { format: 'pretty', level: 'error' },
    extraArgs: [],
  };
}

function runChild(workerModule: string, config: object, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD_SCRIPT, workerModule, JSON.stringify(config)], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code) => resolve(code === 0 ? '' : stderr.trim() || `exit ${code}`));
  });
}

/** The executable the SDK left in `dir` (it names it `temporal-cli-<version>`; `.downloading` is a partial one). */
function downloadedExecutable(dir: string): string | undefined {
  return fs
    .readdirSync(dir)
    .filter((name) => name.startsWith('temporal') && !name.endsWith('.downloading'))
    .map((name) => path.join(dir, name))
    .find(isExecutable);
}

/**
 * Downloads the pinned Temporal CLI through the Temporal SDK into a private staging dir, checks it
 * runs, and installs it at `target`. `workerModule` is replaceable so a test can stand in for the
 * SDK (this machine may have no internet).
 */
export async function downloadTemporalCliWithSdk(
  cfg: DevServerConfig,
  target: string,
  env: NodeJS.ProcessEnv,
  progress: (line: string) => void,
  workerModule: string = require.resolve('@temporalio/worker'),
): Promise<void> {
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-temporal-download-'));
  try {
    progress(`Downloading Temporal CLI ${cfg.cli.version} through the Temporal SDK (first run only)…`);
    // Only used by the SDK for its "default" version; ours is pinned, but the field is required.
    const sdkPackage = fs.readFileSync(require.resolve('@temporalio/worker/package.json'), 'utf8');
    const sdkVersion = (JSON.parse(sdkPackage) as { version: string }).version;
    const failure = await runChild(workerModule, nativeDevServerConfig(cfg, staging, sdkVersion), env);
    // The server start after the download may fail on its own; a downloaded binary that runs is enough.
    const exe = downloadedExecutable(staging);
    if (!exe) throw new Error(failure || 'the SDK downloaded no executable');
    if (!answersVersion(exe)) throw new Error(`the downloaded ${path.basename(exe)} does not run`);
    installBinary(exe, target);
    progress(`Temporal CLI downloaded and cached at ${target}`);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
