import * as fs from 'node:fs';
import * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** True while the process exists (EPERM: it exists but belongs to another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits for a process to exit, escalating to SIGKILL after `graceMs`. */
export async function stopPid(pid: number, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    while (isAlive(pid)) await sleep(50);
  }
}

/**
 * Stops a process left behind by a launcher that was killed with SIGKILL (its pid file survived),
 * so a second start after `kill -9` comes up cleanly.
 */
export async function stopStaleFromPidFile(pidFile: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  } catch {
    return false;
  }
  if (!Number.isFinite(pid) || pid <= 0 || pid === process.pid || !isAlive(pid)) {
    fs.rmSync(pidFile, { force: true });
    return false;
  }
  await stopPid(pid, signal);
  fs.rmSync(pidFile, { force: true });
  return true;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForPort(
  host: string,
  port: number,
  timeoutMs: number,
  isDead?: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (isDead?.()) throw new Error(`process exited before ${host}:${port} accepted connections`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${host}:${port}`);
    await sleep(150);
  }
}

/**
 * Whether another socket holds `host:port`. Any other bind error (an address this machine does
 * not have, a port it may not bind) rejects with it: moving to another port would not help.
 */
export async function isPortInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(true) : reject(err)));
    srv.listen(port, host, () => srv.close(() => resolve(false)));
  });
}

/**
 * Whether process `pid` holds a listening TCP socket on `port`: the socket's inode from
 * /proc/net/tcp{,6} (state 0A is LISTEN) among the process's descriptors. Undefined where /proc
 * does not tell (not Linux). It tells a server that owns its port from one whose port is answered
 * by another process.
 */
export function holdsListeningPort(pid: number, port: number): boolean | undefined {
  if (process.platform !== 'linux') return undefined;
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readOr(table).split('\n').slice(1)) {
      const [, local, , state, , , , , , inode] = line.trim().split(/\s+/);
      if (state === '0A' && Number.parseInt(local?.split(':')[1] ?? '', 16) === port) inodes.add(inode!);
    }
  }
  // Something answers on the port (the caller waited for it): no entry means /proc cannot tell (WSL1, some sandboxes).
  if (inodes.size === 0) return undefined;
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false; // exited
  }
  return fds.some((fd) => inodes.has(/^socket:\[(\d+)\]$/.exec(readLinkOr(`/proc/${pid}/fd/${fd}`))?.[1] ?? ''));
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function readLinkOr(link: string): string {
  try {
    return fs.readlinkSync(link);
  } catch {
    return ''; // the descriptor closed while we looked
  }
}
