/**
 * The shared plumbing of the gateway simulators, in one place: for the mobile-money ones
 * (simulators/daraja.ts, simulators/airtel.ts) a JSON HTTP server on 127.0.0.1, a request log,
 * bounded timers that close() clears, and callback delivery with real HTTP POSTs; for the card
 * ones (simulators/stripe.ts, simulators/square.ts) scripts, signed-webhook delivery with retries,
 * the one-time 'timeout' hang and the raw HTTP helpers. Nothing here loops: every timer fires once.
 */
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
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

/** The server's timers (uncapped) and in-flight callback POSTs, which close() stops. */
class Lifetime {
  private readonly timers = new SimTimers(Infinity);
  readonly inflight = new Set<AbortController>();

  get closed(): boolean {
    return this.timers.closed;
  }

  later(ms: number, fn: () => void | Promise<void>): void {
    this.timers.after(ms, fn);
  }

  close(): void {
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

// ---------------------------------------------------------------------------------------------
// Card gateways (simulators/stripe.ts, simulators/square.ts): scripts, webhooks, raw HTTP
// ---------------------------------------------------------------------------------------------

export interface GatewayScript {
  /**
   * What the customer/card does:
   *  - success / decline: the card is approved / declined;
   *  - timeout: the gateway does the work of the initiating request (confirm, reader process,
   *    session create; Square: terminal checkout or payment create) but its HTTP response never
   *    arrives (held until the client gives up, at most `hangMs`); the charge then goes the
   *    `afterTimeout` way. Only the first such request hangs; a retry gets the saved response;
   *  - abandon: the customer never pays (the reader keeps waiting, the QR page stays open).
   */
  outcome: 'success' | 'decline' | 'timeout' | 'abandon';
  /** For outcome 'timeout': what became of the charge (default 'success'). */
  afterTimeout?: 'success' | 'decline';
  /** Reader/terminal/QR page: how long the customer takes before the outcome (default 25 ms). */
  outcomeDelayMs?: number;
  /** Stripe reader: the outcome waits for presentCard() instead of a delay (a test's customer taps when told). */
  awaitCard?: boolean;
  /** From the outcome to the webhook (default 10 ms). */
  webhookDelayMs?: number;
  /** Deliver each webhook of this payment twice (same event id). */
  duplicateWebhook?: boolean;
  /** The outcome happens, and its webhook is delivered, before the initiating request is answered. */
  webhookBeforeResponse?: boolean;
  /** The next N API requests about this payment get a 500 before reaching the gateway's logic (nothing is done, nothing saved). */
  fail5xx?: number;
  /** A cancel loses the race: the customer pays just before it lands (cancel then reports succeeded). */
  lateSuccessAfterCancel?: boolean;
  /** How long a 'timeout' response is held at most (default 10 s). */
  hangMs?: number;
  /** Square Terminal: the checkout completes for this much more than was asked (a gateway-side amount mismatch). */
  overcharge?: number;
}

export interface WebhookDelivery {
  eventId: string;
  type: string;
  body: string;
  attempts: number;
  /** HTTP status of the last attempt (0: no answer). */
  status: number;
  deliveredAt?: number;
}

/** Bounded timers that close() clears; nothing keeps the process alive after a test. */
export class SimTimers {
  private readonly timers = new Set<NodeJS.Timeout>();
  closed = false;

  /** maxMs caps every delay (the card simulators' 60 s; the JSON server's timers are uncapped). */
  constructor(private readonly maxMs = 60_000) {}

  after(ms: number, fn: () => void | Promise<void>): void {
    if (this.closed) return;
    const t = setTimeout(
      () => {
        this.timers.delete(t);
        if (!this.closed)
          void Promise.resolve()
            .then(fn)
            .catch(() => undefined);
      },
      Math.max(0, Math.min(ms, this.maxMs)),
    );
    this.timers.add(t);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      const t = setTimeout(
        () => {
          this.timers.delete(t);
          resolve();
        },
        Math.max(0, Math.min(ms, this.maxMs)),
      );
      this.timers.add(t);
    });
  }

  clear(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/**
 * Posts a webhook like a gateway does: a few attempts with a short backoff until a 2xx.
 * `sign` is called per attempt (Stripe signs each attempt with a fresh timestamp).
 */
export async function deliverWebhook(
  timers: SimTimers,
  url: string | undefined,
  body: string,
  sign: () => Record<string, string>,
  record: WebhookDelivery,
): Promise<void> {
  if (!url) return;
  for (let attempt = 1; attempt <= 3 && !timers.closed; attempt++) {
    record.attempts = attempt;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', ...sign() },
        body,
        signal: AbortSignal.timeout(5_000),
      });
      await res.arrayBuffer().catch(() => undefined);
      record.status = res.status;
      if (res.ok) {
        record.deliveredAt = Date.now();
        return;
      }
    } catch {
      record.status = 0;
    }
    await timers.sleep(100 * attempt);
  }
}

export function readBody(req: http.IncomingMessage, limit = 1_000_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function listen(server: http.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** Closes a server and every connection it holds (held 'timeout' responses included). */
export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export function randomId(prefix: string, len = 24): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(len);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return prefix + s;
}

/** Scripts keyed by amount (number) or our payment id (string). */
export class ScriptBook {
  private readonly byAmount = new Map<number, GatewayScript>();
  private readonly byPaymentId = new Map<string, GatewayScript>();
  constructor(private readonly fallback: GatewayScript) {}

  set(match: number | string, s: GatewayScript): void {
    const copy = { ...s };
    if (typeof match === 'number') this.byAmount.set(match, copy);
    else this.byPaymentId.set(match, copy);
  }

  /** Scripted by payment id first, then by amount, else the default (a shared, never-failing copy). */
  find(amount: number | undefined, paymentId: string | undefined): GatewayScript {
    return (
      (paymentId !== undefined ? this.byPaymentId.get(paymentId) : undefined) ??
      (amount !== undefined ? this.byAmount.get(amount) : undefined) ??
      this.fallback
    );
  }

  isDefault(s: GatewayScript): boolean {
    return s === this.fallback;
  }

  /** Consumes one injected failure. */
  take5xx(s: GatewayScript): boolean {
    if (s.fail5xx && s.fail5xx > 0) {
      s.fail5xx -= 1;
      return true;
    }
    return false;
  }
}

/** The charge's fate once the customer acts: timeout resolves to its afterTimeout. */
export function effectiveOutcome(s: GatewayScript): 'success' | 'decline' | 'abandon' {
  return s.outcome === 'timeout' ? (s.afterTimeout ?? 'success') : s.outcome;
}

/** What an endpoint of a gateway simulator answers (simulators/square.ts too). */
export interface Reply {
  status: number;
  body: unknown;
  /** Work to finish before answering (webhookBeforeResponse). */
  before?: Promise<void>;
  /** Hold the answer: the 'timeout' outcome. */
  hang?: number;
}

/** Only the first initiating request of a 'timeout' script hangs; its retries are answered. */
export class HangOnce {
  private readonly hung = new WeakSet<GatewayScript>();

  /** How long this request's answer is held (undefined: answered normally). */
  hangFor(s: GatewayScript): number | undefined {
    if (s.outcome !== 'timeout' || this.hung.has(s)) return undefined;
    this.hung.add(s);
    return s.hangMs ?? 10_000;
  }
}

/** Answers a reply once its before-work is done; a hanging reply's connection is dropped after hang ms instead. */
export async function finishReply(
  res: http.ServerResponse,
  timers: SimTimers,
  reply: Reply,
  answer: () => void,
): Promise<void> {
  if (reply.before) await reply.before;
  if (reply.hang !== undefined) {
    // The work is done and saved; the answer is lost. Drop the connection once the client gives up or hangMs passes.
    timers.after(reply.hang, () => {
      res.destroy();
    });
    return;
  }
  answer();
}
