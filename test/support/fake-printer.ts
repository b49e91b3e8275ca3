/**
 * A fake ESC/POS network printer: a real TCP listener on 127.0.0.1 that records
 * the bytes of every connection. One connection = one job; a job is recorded
 * when its socket closes (node-thermal-printer destroys the socket right after
 * its write is flushed). Connections that sent nothing (e.g. the library's
 * isPrinterConnected() probe) are not jobs.
 */
import net from 'node:net';
import { Worker } from 'node:worker_threads';

export interface FakePrinter {
  /** tcp://127.0.0.1:PORT */
  address: string;
  /** Raw bytes of each finished job, in the order the connections closed. */
  jobs: Buffer[];
  /** Printable text of job i, with ESC/POS commands stripped. */
  text(i: number): string;
  /** Resolves once at least n jobs have finished; rejects after timeoutMs (default 2000). */
  waitForJobs(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Listens on `port` (0 = any free one); a printer that comes back on its old port passes its address's port. */
export async function startFakePrinter(port = 0): Promise<FakePrinter> {
  const jobs: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const waiters = new Set<() => void>();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined); // a reset still ends the job on 'close'
    socket.on('close', () => {
      sockets.delete(socket);
      if (chunks.length === 0) return;
      jobs.push(Buffer.concat(chunks));
      for (const wake of [...waiters]) wake();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as net.AddressInfo).port;

  return {
    address: `tcp://127.0.0.1:${bound}`,
    jobs,
    text: (i) => {
      if (!jobs[i]) throw new Error(`fake printer has no job ${i} (${jobs.length} received)`);
      return escposToText(jobs[i]);
    },
    waitForJobs: (n, timeoutMs = 2000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (jobs.length < n) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`fake printer: expected ${n} job(s) within ${timeoutMs} ms, got ${jobs.length}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A tcp:// address on 127.0.0.1 with nothing listening: connecting to it is refused. */
export async function closedAddress(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `tcp://127.0.0.1:${port}`;
}

/**
 * A printer that vanishes mid-ticket, like one switched off while printing: it accepts one
 * connection, takes the first bytes of the ticket, then resets the connection and stops
 * listening (later connections are refused). What it got is in `received`.
 */
export async function startVanishingPrinter(): Promise<{
  address: string;
  received: Buffer[];
  close(): Promise<void>;
}> {
  const received: Buffer[] = [];
  const server = net.createServer((socket) => {
    server.close();
    socket.once('data', (chunk) => {
      received.push(chunk);
      socket.resetAndDestroy();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `tcp://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A printer that never answers, like a powered-off one on the LAN: connecting
 * hangs until the client gives up. A listener runs in a worker thread whose event
 * loop is blocked, so it never accepts; once its accept queue is full (Linux
 * queues backlog + 1), the kernel drops further SYNs and connect() just waits.
 */
export async function startUnresponsivePrinter(): Promise<{ address: string; close(): Promise<void> }> {
  const release = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const server = require('node:net').createServer();
     server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       Atomics.wait(workerData, 0, 0);
       process.exit(0);
     });`,
    { eval: true, workerData: release },
  );
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });

  const fillers: net.Socket[] = [];
  const close = async () => {
    for (const socket of fillers) socket.destroy();
    Atomics.store(release, 0, 1);
    Atomics.notify(release, 0);
    await worker.terminate();
  };
  // Fill the accept queue: connect until a connection attempt no longer completes.
  for (let connected = true; connected;) {
    if (fillers.length >= 16) {
      await close();
      throw new Error('could not fill the accept queue of the unresponsive printer');
    }
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    fillers.push(socket);
    connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 250);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
  return { address: `tcp://127.0.0.1:${port}`, close };
}

// ---------------------------------------------------------------- ESC/POS → text

const ESC = 0x1b;
const GS = 0x1d;
const FS = 0x1c;
const DLE = 0x10;

/** Parameter bytes after ESC x / GS x for fixed-length commands; unknown ones take 1. */
const ESC_ARGS: Record<string, number> = {
  '@': 0,
  '2': 0,
  i: 0,
  m: 0,
  '<': 0,
  '?': 2,
  B: 2,
  p: 3,
  $: 2,
  '\\': 2,
  c: 2,
};
const GS_ARGS: Record<string, number> = { L: 2, W: 2, $: 2, P: 2, '\\': 2 };

/** Length of the command starting at buf[i] (a control byte), including parameters. */
function commandLength(buf: Buffer, i: number): number {
  const byte = buf[i];
  const cmd = String.fromCharCode(buf[i + 1] ?? 0);
  if (byte === ESC) {
    if (cmd === 'D') return nulTerminated(buf, i + 2) - i; // tab stops, NUL-terminated
    return 2 + (ESC_ARGS[cmd] ?? 1);
  }
  if (byte === GS) {
    const m = buf[i + 2] ?? 0;
    if (cmd === 'V') return m === 65 || m === 66 || m >= 97 ? 4 : 3; // cut, optional feed amount
    if (cmd === '(') return 5 + (buf[i + 3] ?? 0) + 256 * (buf[i + 4] ?? 0); // GS ( fn pL pH data
    if (cmd === 'k') return m <= 6 ? nulTerminated(buf, i + 3) - i : 4 + (buf[i + 3] ?? 0); // barcode
    return 2 + (GS_ARGS[cmd] ?? 1);
  }
  if (byte === FS) return cmd === '.' || cmd === '&' ? 2 : 3;
  if (byte === DLE) return 3; // DLE EOT n, DLE ENQ n
  return 1; // other C0 controls (VT, CR, ...) carry no text
}

function nulTerminated(buf: Buffer, from: number): number {
  const end = buf.indexOf(0, from);
  return end === -1 ? buf.length : end + 1;
}

/** Code page 437 (the printer's default, selected by ESC t 0), bytes 0x80..0xFF. */
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌' +
  '█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

/**
 * The printable text of an ESC/POS byte stream. Bytes >= 0x80 are read as code
 * page 437 whatever ESC t selected (tests print ASCII and Latin-1 letters).
 */
export function escposToText(buf: Buffer): string {
  let out = '';
  for (let i = 0; i < buf.length;) {
    const byte = buf[i];
    if (byte === 0x0a || byte === 0x09 || (byte >= 0x20 && byte < 0x7f)) {
      out += String.fromCharCode(byte);
      i += 1;
    } else if (byte >= 0x80) {
      out += CP437_HIGH[byte - 0x80];
      i += 1;
    } else {
      i += commandLength(buf, i);
    }
  }
  return out;
}
