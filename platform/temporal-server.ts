import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { logger } from './logger';
import { DevServerConfig } from './temporal-dev-config';
import { freePort, holdsListeningPort, isPortInUse, stopPid, stopStaleFromPidFile, waitForPort } from './processes';

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

/** The process's port was bound by another process as it started (a launcher starting at the same moment). */
export class PortTakenError extends Error {
  constructor(readonly ports: number[]) {
    super(`port ${ports.join(', ')} is served by another process`);
    this.name = 'PortTakenError';
  }
}

interface Ports {
  port: number;
  /** Undefined when headless. */
  uiPort?: number;
}

/**
 * Waits until the server answers with its namespace and search attributes and holds its ports
 * itself; kills it if it does not. Another server answering on the port is not this one started.
 */
async function whenServing(p: DevServerProcess, cfg: DevServerConfig, ports: Ports): Promise<void> {
  const listened = [ports.port, ...(ports.uiPort === undefined ? [] : [ports.uiPort])];
  try {
    for (const port of listened) await waitForPort(cfg.ip, port, 60_000, p.exited);
    await waitForNamespace(`${cfg.ip}:${ports.port}`, cfg.namespace, Object.keys(cfg.searchAttributes), p.exited);
    await confirmOwnPorts(p, listened);
  } catch (err) {
    p.kill();
    if (err instanceof PortTakenError) throw err;
    const taken = p.exited() ? await portsInUse(cfg.ip, listened) : [];
    if (taken.length > 0) throw new PortTakenError(taken);
    throw new Error(`Temporal dev server did not start: ${(err as Error).message}\n${p.tail()}`, { cause: err });
  }
}

async function confirmOwnPorts(p: DevServerProcess, ports: number[]): Promise<void> {
  const held = ports.map((port) => holdsListeningPort(p.pid, port));
  const notHeld = ports.filter((_, i) => held[i] === false);
  if (notHeld.length > 0) throw new PortTakenError(notHeld);
  if (held.every((h) => h === true)) return;
  // Where /proc does not tell: a server that lost its bind exits within moments of starting.
  await Promise.race([p.exit, sleep(1_000)]);
  if (p.exited()) throw new PortTakenError(ports);
}

async function portsInUse(ip: string, ports: number[]): Promise<number[]> {
  const inUse = await Promise.all(ports.map((port) => isPortInUse(ip, port)));
  return ports.filter((_, i) => inUse[i]);
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
  if (opts.dataDir) fs.mkdirSync(opts.dataDir, { recursive: true });
  const launch = async (ports: Ports) => {
    const args = devServerArgs(opts, ports);
    const p = spawnDevServer(opts.cliPath, args, pidFile);
    await whenServing(p, cfg, ports);
    return { p, args };
  };
  let ports = await choosePorts(opts);
  let launched: { p: DevServerProcess; args: string[] };
  try {
    launched = await launch(ports);
  } catch (err) {
    if (!(err instanceof PortTakenError)) throw err;
    // Another launcher bound the port between the check and this server's bind: once, on free ones.
    logger.warn({ taken: err.ports }, 'Temporal port taken as the dev server started; picking free ones');
    ports = await freePorts(opts);
    launched = await launch(ports);
  }
  let current = launched.p;
  const { args } = launched;
  return {
    address: `${cfg.ip}:${ports.port}`,
    uiUrl:
      ports.uiPort === undefined ? undefined : `http://${cfg.ip === '0.0.0.0' ? '127.0.0.1' : cfg.ip}:${ports.uiPort}`,
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
      await whenServing(current, cfg, ports);
    },
  };
}

/** The configured ports, or free ones when asked for or when the configured ones are in use. */
async function choosePorts(opts: DevServerOptions): Promise<Ports> {
  const { cfg } = opts;
  const ports: Ports = { port: cfg.port, uiPort: opts.headless ? undefined : cfg.uiPort };
  if (opts.randomPorts) return freePorts(opts);
  if ((await portsInUse(cfg.ip, [ports.port, ...(ports.uiPort === undefined ? [] : [ports.uiPort])])).length === 0) {
    return ports;
  }
  logger.warn({ port: cfg.port, uiPort: cfg.uiPort }, 'Temporal ports in use; picking free ones');
  return freePorts(opts);
}

async function freePorts(opts: DevServerOptions): Promise<Ports> {
  return { port: await freePort(), uiPort: opts.headless ? undefined : await freePort() };
}

function devServerArgs(opts: DevServerOptions, ports: Ports): string[] {
  const { cfg } = opts;
  const args = ['server', 'start-dev', '--ip', cfg.ip, '--port', String(ports.port), '--namespace', cfg.namespace];
  args.push('--log-level', cfg.logLevel, '--log-format', 'json');
  if (ports.uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(ports.uiPort));
  if (opts.dataDir) {
    args.push('--db-filename', path.join(opts.dataDir, cfg.dbFile));
    for (const [pragma, value] of Object.entries(cfg.sqlitePragmas)) args.push('--sqlite-pragma', `${pragma}=${value}`);
  }
  for (const [name, type] of Object.entries(cfg.searchAttributes)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(cfg.dynamicConfig)) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  return args;
}

async function waitForNamespace(
  address: string,
  namespace: string,
  searchAttributes: string[],
  isDead: () => boolean,
): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (isDead()) throw new Error('process exited before its namespace answered');
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
