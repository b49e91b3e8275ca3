/**
 * Small shared pieces for the gateway simulators (simulators/daraja.ts, simulators/airtel.ts):
 * a JSON HTTP server on 127.0.0.1, a request log, bounded timers that close() clears, and
 * callback delivery with real HTTP POSTs. Nothing here loops: every timer fires once.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoggedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  /** Parsed JSON body (the raw text when it is not JSON; undefined when empty). */
  body: unknown;
}

export interface CallbackDelivery {
  url: string;
  body: unknown;
  /** HTTP status of the receiver's answer; undefined when the POST failed (see error). */
  status?: number;
  error?: string;
  at: number;
}

export interface SimResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** The work is done but the answer never arrives: the connection is dropped instead of answered. */
  drop?: boolean;
}

export type SimHandler = (req: LoggedRequest) => Promise<SimResponse> | SimResponse;

export interface JsonServer {
  url: string;
  requests: LoggedRequest[];
  callbacks: CallbackDelivery[];
  /** Runs fn once after ms unless the server is closed first. */
  later(ms: number, fn: () => void | Promise<void>): void;
  /** POSTs a JSON body to url (one attempt, 5 s timeout); never throws, records the outcome. */
  postCallback(url: string, body: unknown): Promise<CallbackDelivery>;
  close(): Promise<void>;
}

/** Node's headers with repeated ones joined by commas. */
function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]));
}

/** A request as the handler sees it: the body parsed as JSON when it is JSON. */
function toLoggedRequest(req: http.IncomingMessage, text: string): LoggedRequest {
  const url = new URL(req.url ?? '/', 'http://sim.local');
  let body: unknown;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: flatHeaders(req.headers),
    body,
  };
}

/** Runs the handler and writes its answer (a thrown error is a 500; drop closes the connection unanswered). */
function respond(handler: SimHandler, logged: LoggedRequest, res: http.ServerResponse): void {
  void Promise.resolve()
    .then(() => handler(logged))
    .catch((err: unknown): SimResponse => ({
      status: 500,
      body: { error: 'simulator error', detail: (err as Error).message },
    }))
    .then((r) => {
      if (r.drop) return void res.destroy();
      const payload = r.body === undefined ? '' : JSON.stringify(r.body);
      res.writeHead(r.status, { 'content-type': 'application/json', ...(r.headers ?? {}) });
      res.end(payload);
    });
}

/** The server's timers and in-flight callback POSTs, which close() stops. */
class Lifetime {
  readonly timers = new Set<NodeJS.Timeout>();
  readonly inflight = new Set<AbortController>();
  closed = false;

  later(ms: number, fn: () => void | Promise<void>): void {
    if (this.closed) return;
    const t = setTimeout(
      () => {
        this.timers.delete(t);
        if (!this.closed)
          void Promise.resolve()
            .then(fn)
            .catch(() => undefined);
      },
      Math.max(0, ms),
    );
    this.timers.add(t);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const ac of this.inflight) ac.abort();
  }
}

/** One POST attempt with a 5 s timeout; the outcome is recorded, never thrown. */
async function postJson(life: Lifetime, url: string, body: unknown): Promise<CallbackDelivery> {
  const delivery: CallbackDelivery = { url, body, at: Date.now() };
  if (life.closed) {
    delivery.error = 'simulator closed';
    return delivery;
  }
  const ac = new AbortController();
  life.inflight.add(ac);
  const t = setTimeout(() => ac.abort(), 5000);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: ac.signal,
    });
    await res.arrayBuffer().catch(() => undefined);
    delivery.status = res.status;
  } catch (err) {
    delivery.error = (err as Error).message;
  } finally {
    clearTimeout(t);
    life.inflight.delete(ac);
  }
  return delivery;
}

export async function startJsonServer(
  handler: SimHandler,
  opts: { host?: string; port?: number } = {},
): Promise<JsonServer> {
  const requests: LoggedRequest[] = [];
  const callbacks: CallbackDelivery[] = [];
  const life = new Lifetime();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const logged = toLoggedRequest(req, Buffer.concat(chunks).toString('utf8'));
      requests.push(logged);
      respond(handler, logged, res);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${addr.port}`,
    requests,
    callbacks,
    later: (ms, fn) => life.later(ms, fn),
    async postCallback(url, body) {
      const delivery = await postJson(life, url, body);
      callbacks.push(delivery);
      return delivery;
    },
    async close() {
      if (life.closed) return;
      life.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ReceivedCallback {
  path: string;
  headers: Record<string, string | undefined>;
  rawBody: string;
  /** The full URL it was posted to (what RawWebhook.url carries). */
  url: string;
  at: number;
}

export interface CallbackReceiver {
  url: string;
  received: ReceivedCallback[];
  /** Resolves once at least n callbacks have arrived (rejects after timeoutMs). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedCallback[]>;
  close(): Promise<void>;
}

/** A tiny HTTP server that accepts any POST with 200 and records it: a stand-in for our webhook route. */
export async function startCallbackReceiver(): Promise<CallbackReceiver> {
  const received: ReceivedCallback[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const addr = server.address() as AddressInfo;
      received.push({
        path: new URL(req.url ?? '/', 'http://x').pathname,
        headers: flatHeaders(req.headers),
        rawBody: Buffer.concat(chunks).toString('utf8'),
        url: `http://127.0.0.1:${addr.port}${req.url ?? '/'}`,
        at: Date.now(),
      });
      for (const w of [...waiters]) {
        if (received.length >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"received":true}');
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    received,
    waitFor(n, timeoutMs = 5000) {
      if (received.length >= n) return Promise.resolve(received);
      return new Promise((resolve, reject) => {
        const w = {
          n,
          resolve: () => {
            clearTimeout(t);
            resolve(received);
          },
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`expected ${n} callback(s) within ${timeoutMs} ms, got ${received.length}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Random upper-case alphanumerics (receipt numbers and the like). */
export function randomCode(len: number): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let s = '';
  for (let i = 0; i < len; i++) s += abc[Math.floor(Math.random() * abc.length)];
  return s;
}

/** yyyyMMddHHmmss in Africa/Nairobi (UTC+3 all year; Kenya has no daylight saving time). */
export function nairobiTimestamp(at: Date = new Date()): string {
  return new Date(at.getTime() + 3 * 3600_000)
    .toISOString()
    .replace(/[^0-9]/g, '')
    .slice(0, 14);
}

/** How a scripted mobile-money prompt's callback arrives (simulators/daraja.ts, simulators/airtel.ts). */
export interface CallbackTiming {
  outcome: string;
  /** Delay before the callback (default 50 ms). */
  callbackDelayMs?: number;
  /** timeout only: deliver the callback anyway, this long after the request. */
  lateCallbackMs?: number;
  /** Deliver the callback (and wait for the receiver) before answering the request. */
  callbackBeforeResponse?: boolean;
}

/**
 * Runs deliver when the script says: after callbackDelayMs, before the answer (awaited), or for a
 * 'timeout' only when lateCallbackMs is set (else never).
 */
export async function scheduleCallback(
  server: JsonServer,
  script: CallbackTiming,
  deliver: () => Promise<void>,
): Promise<void> {
  if (script.outcome === 'timeout') {
    if (script.lateCallbackMs !== undefined) server.later(script.lateCallbackMs, deliver);
    return;
  }
  if (script.callbackBeforeResponse) return deliver();
  server.later(script.callbackDelayMs ?? 50, deliver);
}
