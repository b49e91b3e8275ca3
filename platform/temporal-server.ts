import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { logger } from './logger';
import { DevServerConfig } from './temporal-dev-config';
import { freePort, isPortInUse, stopPid, stopStaleFromPidFile, waitForPort } from './processes';

export interface DevServerHandle {
  address: string;
  uiUrl?: string;
  namespace: string;
  /** The running server's pid (a new one after each restart). */
  readonly pid: number;
  stop(): Promise<void>;
  /** Resolves when the server now running exits. */
  exited(): Promise<void>;
  /** Starts the server again with the same ports and SQLite file (after it died). */
  restart(): Promise<void>;
}

interface DevServerProcess {
  pid: number;
  exit: Promise<void>;
  exited: () => boolean;
  kill: () => void;
  tail: () => string;
}

/** Spawns the CLI and keeps the last lines it printed, for the error when it does not come up. */
function spawnDevServer(cliPath: string, args: string[], pidFile: string | undefined): DevServerProcess {
  const child = spawn(cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', () => {
      exited = true;
      resolve();
    }),
  );
  if (pidFile && child.pid) fs.writeFileSync(pidFile, String(child.pid));
  return {
    pid: child.pid!,
    exit,
    exited: () => exited,
    kill: () => child.kill('SIGKILL'),
    tail: () => lines.join('\n'),
  };
}

/** Waits until the server answers with its namespace and search attributes; kills it if it does not. */
async function whenServing(p: DevServerProcess, cfg: DevServerConfig, port: number): Promise<void> {
  try {
    await waitForPort(cfg.ip, port, 60_000, p.exited);
    await waitForNamespace(`${cfg.ip}:${port}`, cfg.namespace, Object.keys(cfg.searchAttributes));
  } catch (err) {
    p.kill();
    throw new Error(`Temporal dev server did not start: ${(err as Error).message}\n${p.tail()}`, { cause: err });
  }
}

export interface DevServerOptions {
  cliPath: string;
  cfg: DevServerConfig;
  /** Where the SQLite file and pid file live; omit for an in-memory server (tests). */
  dataDir?: string;
  /** Pick free ports instead of the configured ones (tests, or when the configured ones are taken). */
  randomPorts?: boolean;
  headless?: boolean;
}

/** Runs `temporal server start-dev` configured from temporal-dev.yml and waits until the namespace answers. */
export async function startTemporalDevServer(opts: DevServerOptions): Promise<DevServerHandle> {
  const { cfg } = opts;
  const pidFile = opts.dataDir ? path.join(opts.dataDir, 'temporal.pid') : undefined;
  if (pidFile && (await stopStaleFromPidFile(pidFile))) {
    logger.warn('stopped a Temporal dev server left running by an earlier start');
  }
  let port = cfg.port;
  let uiPort = cfg.uiPort;
  if (
    opts.randomPorts ||
    (await isPortInUse(cfg.ip, port)) ||
    (!opts.headless && (await isPortInUse(cfg.ip, uiPort)))
  ) {
    if (!opts.randomPorts) logger.warn({ port, uiPort }, 'Temporal ports in use; picking free ones');
    port = await freePort();
    uiPort = await freePort();
  }
  const args = ['server', 'start-dev', '--ip', cfg.ip, '--port', String(port), '--namespace', cfg.namespace];
  args.push('--log-level', cfg.logLevel, '--log-format', 'json');
  if (opts.headless) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (opts.dataDir) {
    fs.mkdirSync(opts.dataDir, { recursive: true });
    args.push('--db-filename', path.join(opts.dataDir, cfg.dbFile));
    for (const [pragma, value] of Object.entries(cfg.sqlitePragmas)) args.push('--sqlite-pragma', `${pragma}=${value}`);
  }
  for (const [name, type] of Object.entries(cfg.searchAttributes)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(cfg.dynamicConfig)) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }

  let current = spawnDevServer(opts.cliPath, args, pidFile);
  await whenServing(current, cfg, port);
  return {
    address: `${cfg.ip}:${port}`,
    uiUrl: opts.headless ? undefined : `http://${cfg.ip === '0.0.0.0' ? '127.0.0.1' : cfg.ip}:${uiPort}`,
    namespace: cfg.namespace,
    get pid() {
      return current.pid;
    },
    stop: async () => {
      if (!current.exited()) await stopPid(current.pid, 'SIGTERM', 15_000);
      if (pidFile) fs.rmSync(pidFile, { force: true });
    },
    exited: () => current.exit,
    restart: async () => {
      current = spawnDevServer(opts.cliPath, args, pidFile);
      await whenServing(current, cfg, port);
    },
  };
}

async function waitForNamespace(address: string, namespace: string, searchAttributes: string[]): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const res = await connection.operatorService.listSearchAttributes({ namespace });
        const known = Object.keys(res.customAttributes ?? {});
        const missing = searchAttributes.filter((s) => !known.includes(s));
        if (missing.length === 0) return;
        if (Date.now() > deadline) throw new Error(`search attributes not registered: ${missing.join(', ')}`);
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      await sleep(200);
    }
  } finally {
    await connection.close();
  }
}
