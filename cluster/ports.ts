import * as net from 'node:net';

/** True when nothing listens on 127.0.0.1:port (we could bind it). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive free ports (for tests and a second cluster beside a running one). Ports of
 * one block are found together so a process with fixed port offsets (sandbox, Temporal's services)
 * can take a base; a port taken between this check and its use fails that start loudly.
 */
export async function freePortBlock(count: number, tries = 50): Promise<number> {
  for (let i = 0; i < tries; i++) {
    // Below 32768: Temporal stores membership ports in a smallint column.
    const base = 20_000 + Math.floor(Math.random() * 600) * 20;
    const checks = await Promise.all(Array.from({ length: count }, (_, k) => portFree(base + k)));
    if (checks.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found on 127.0.0.1`);
}
