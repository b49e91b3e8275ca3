import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { StripeConfig } from '../core/gateway';
import { memoryState, type SimState } from './state';

/*
 * Stripe simulator: the real stripe-mock (Stripe's OpenAPI-driven mock) validates every request,
 * and a small stateful proxy in front of it keeps what stripe-mock forgets — PaymentIntents,
 * Checkout Sessions, refunds, readers, idempotency keys — moves them through their lifecycles per
 * a per-test script, and sends signed webhooks. The adapter talks to the proxy exactly as it
 * would to api.stripe.com (host/port/protocol).
 */

// ---------------------------------------------------------------------------------------------
// Scripts and shared simulator plumbing (also used by simulators/square.ts)
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
      Math.max(0, Math.min(ms, 60_000)),
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
        Math.max(0, Math.min(ms, 60_000)),
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

// ---------------------------------------------------------------------------------------------
// Stripe form bodies
// ---------------------------------------------------------------------------------------------

type Params = { [key: string]: ParamValue };
type ParamValue = string | Params | ParamValue[];

/** Parses Stripe's bracketed form encoding (a[b][0][c]=v, a[]=v) into nested objects/arrays. */
export function parseStripeForm(body: string): Params {
  const root: Params = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const first = rawKey.indexOf('[');
    const keys =
      first < 0
        ? [rawKey]
        : [rawKey.slice(0, first), ...Array.from(rawKey.slice(first).matchAll(/\[([^\]]*)\]/g), (m) => m[1])];
    let node: Params | ParamValue[] = root;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const last = i === keys.length - 1;
      const nextIsIndex = !last && (keys[i + 1] === '' || /^\d+$/.test(keys[i + 1]));
      if (Array.isArray(node)) {
        const idx = k === '' ? node.length : Number(k);
        if (last) node[idx] = value;
        else node = (node[idx] ??= nextIsIndex ? [] : {}) as Params | ParamValue[];
      } else {
        if (last) node[k] = value;
        else node = (node[k] ??= nextIsIndex ? [] : {}) as Params | ParamValue[];
      }
    }
  }
  return root;
}

function str(v: ParamValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function int(v: ParamValue | undefined): number | undefined {
  return typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : undefined;
}

function obj(v: ParamValue | undefined): Params {
  return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

function strings(v: ParamValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) if (typeof x === 'string') out[k] = x;
  return out;
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

interface IntentState {
  obj: Json;
  script: GatewayScript;
  readerId?: string;
  /** Set when the customer's outcome has been applied; later timers do nothing. */
  settled: boolean;
  refunded: number;
}

interface SessionState {
  obj: Json;
  script: GatewayScript;
}

interface Saved {
  fingerprint: string;
  status: number;
  body: string;
}

interface Reply {
  status: number;
  body: unknown;
  /** Work to finish before answering (webhookBeforeResponse). */
  before?: Promise<void>;
  /** Hold the answer: the 'timeout' outcome. */
  hang?: number;
}

export interface StripeSimOptions {
  secretKey?: string;
  webhookSecret?: string;
  webhookUrl?: string;
  /** What unscripted payments do (default: success after 25 ms). */
  defaultScript?: GatewayScript;
  /** The stripe-mock executable (platform/stripe-mock.ts finds or builds it); default $STRIPE_MOCK_BIN. */
  stripeMockBin?: string;
  /** Fixed port on 127.0.0.1 (default: any free one). */
  port?: number;
  /** Where intents, sessions, refunds and idempotency keys are kept (default: memory). */
  state?: SimState;
}

export interface StripeSim {
  /** http://127.0.0.1:port — the proxy. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: 'http';
  readonly secretKey: string;
  readonly webhookSecret: string;
  /** A StripeConfig pointing at this simulator. */
  config(overrides?: Partial<StripeConfig>): StripeConfig;
  setWebhookUrl(url: string | undefined): void;
  /** Scripts every payment of that amount (number, minor units) or with that metadata.paymentId (string). */
  script(match: number | string, s: GatewayScript): void;
  paymentIntents(): Json[];
  checkoutSessions(): Json[];
  refunds(): Json[];
  webhooks(): WebhookDelivery[];
  /** Requests the proxy received, in order ("POST /v1/payment_intents"). */
  requests(): string[];
  /** Lets that much time pass for every existing object: open Checkout Sessions past expires_at expire (with their webhook). */
  advanceTime(seconds: number): void;
  /** The customer pays (or fails to pay) an open Checkout Session now. */
  completeCheckout(sessionId: string, outcome?: 'success' | 'decline'): Promise<void>;
  /** The customer presents the card on the reader of a payment scripted with awaitCard: its outcome happens now. */
  presentCard(paymentIntentId: string): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// stripe-mock process
// ---------------------------------------------------------------------------------------------

interface StripeMockProcess {
  socketPath: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

const liveChildren = new Set<ChildProcess>();

/** Whether a process with that pid exists (signal 0 only checks). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
const STRIPE_MOCK_DIR_PREFIX = 'tillflow-stripe-mock-';

/**
 * A process killed with SIGKILL (a test's worker, `kill -9` of npm start) cannot stop its
 * stripe-mock: each instance records its owner next to its socket, and the next start stops the
 * ones whose owner is gone.
 */
function stopOrphanedStripeMocks(): void {
  for (const name of fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(STRIPE_MOCK_DIR_PREFIX))) {
    const dir = path.join(os.tmpdir(), name);
    try {
      const { owner, child } = JSON.parse(fs.readFileSync(path.join(dir, 'owner.json'), 'utf8')) as {
        owner: number;
        child: number;
      };
      if (isAlive(owner)) continue;
      if (child && isAlive(child)) process.kill(child, 'SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      /* not ours, or being written right now */
    }
  }
}
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A crashed test run must not leave stripe-mock behind.
  process.once('exit', () => {
    for (const c of liveChildren) c.kill('SIGKILL');
  });
}

/**
 * Starts stripe-mock on a private Unix socket: no TCP port to pick or collide on (jest runs test
 * files in parallel), nothing listening beyond this machine. -strict-version-check makes it reject
 * any Stripe-Version other than its bundled spec's, so an SDK bump without a stripe-mock bump fails loudly.
 */
async function startStripeMock(bin = process.env.STRIPE_MOCK_BIN): Promise<StripeMockProcess> {
  if (!bin)
    throw new Error('startStripeSimulator needs the stripe-mock executable: pass stripeMockBin or set STRIPE_MOCK_BIN');
  stopOrphanedStripeMocks();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), STRIPE_MOCK_DIR_PREFIX));
  const socketPath = path.join(dir, 'stripe-mock.sock');
  const child = spawn(bin, ['-http-unix', socketPath, '-strict-version-check'], { stdio: ['ignore', 'pipe', 'pipe'] });
  fs.writeFileSync(path.join(dir, 'owner.json'), JSON.stringify({ owner: process.pid, child: child.pid }));
  liveChildren.add(child);
  installExitHook();
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => liveChildren.delete(child));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`stripe-mock did not start within 20 s:\n${output}`)), 20_000);
      const onData = (c: Buffer) => {
        output += c.toString();
        if (output.includes('Listening for HTTP on Unix socket')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`stripe-mock exited (code ${code}) before listening:\n${output}`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  // Keep draining its output so a chatty stripe-mock never blocks on a full pipe.
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    socketPath,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function forward(
  socketPath: string,
  req: http.IncomingMessage,
  body: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers };
    delete headers.host;
    delete headers['content-length'];
    delete headers['transfer-encoding'];
    delete headers.connection;
    delete headers['idempotency-key']; // stripe-mock ignores it; the proxy owns idempotency
    const out = http.request(
      {
        socketPath,
        method: req.method,
        path: req.url,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    out.on('error', reject);
    out.setTimeout(10_000, () => out.destroy(new Error('stripe-mock did not answer within 10 s')));
    out.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------------------------

function stripeError(status: number, type: string, message: string, extra: Json = {}): Reply {
  return { status, body: { error: { type, message, ...extra } } };
}

export async function startStripeSimulator(opts: StripeSimOptions = {}): Promise<StripeSim> {
  const secretKey = opts.secretKey ?? `sk_test_${randomBytes(12).toString('hex')}`;
  const webhookSecret = opts.webhookSecret ?? `whsec_${randomBytes(16).toString('hex')}`;
  let webhookUrl = opts.webhookUrl;
  const timers = new SimTimers();
  const scripts = new ScriptBook(opts.defaultScript ?? { outcome: 'success' });
  const state = opts.state ?? memoryState();
  const intents = state.map<IntentState>('stripe.intents');
  const sessions = state.map<SessionState>('stripe.sessions');
  const refunds = state.map<Json>('stripe.refunds');
  const readers = state.map<{ action: Json | null }>('stripe.readers');
  const saved = state.map<Saved>('stripe.saved');
  const deliveries: WebhookDelivery[] = [];
  const requestLog: string[] = [];
  /** Readers scripted with awaitCard, by PaymentIntent id: what presenting the card does. */
  const awaitingCard = new Map<string, () => Promise<void>>();
  const now = () => Math.floor(Date.now() / 1000);

  const mock = await startStripeMock(opts.stripeMockBin);

  // ---- webhooks ----------------------------------------------------------------------------

  function sign(payload: string): Record<string, string> {
    const t = Math.floor(Date.now() / 1000);
    const v1 = createHmac('sha256', webhookSecret).update(`${t}.${payload}`, 'utf8').digest('hex');
    return { 'stripe-signature': `t=${t},v1=${v1}`, 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' };
  }

  /** Builds the event now (a snapshot of the object), delivers it after the script's delay. Resolves once delivered. */
  function emit(type: string, object: Json, script: GatewayScript, immediate = false): Promise<void> {
    const event = {
      id: randomId('evt_'),
      object: 'event',
      api_version: '2025-09-30.clover',
      created: now(),
      data: { object: structuredClone(object) },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    };
    const body = JSON.stringify(event, null, 2);
    const send = async () => {
      const times = script.duplicateWebhook ? 2 : 1;
      for (let i = 0; i < times; i++) {
        const record: WebhookDelivery = { eventId: event.id, type, body, attempts: 0, status: 0 };
        deliveries.push(record);
        await deliverWebhook(timers, webhookUrl, body, () => sign(body), record);
      }
    };
    if (immediate) return send();
    return new Promise((resolve) => timers.after(script.webhookDelayMs ?? 10, () => send().then(resolve)));
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  function succeedIntent(st: IntentState, immediate = false): Promise<void> {
    if (st.settled) return Promise.resolve();
    st.settled = true;
    const chargeId = randomId('ch_');
    Object.assign(st.obj, {
      status: 'succeeded',
      amount_received: st.obj.amount,
      amount_capturable: 0,
      latest_charge: chargeId,
      last_payment_error: null,
      next_action: null,
      payment_method: st.obj.payment_method ?? randomId('pm_'),
    });
    if (st.readerId) setReaderAction(st.readerId, st.obj.id as string, 'succeeded');
    return emit('payment_intent.succeeded', st.obj, st.script, immediate);
  }

  function declineIntent(st: IntentState, immediate = false): Promise<void> {
    if (st.settled) return Promise.resolve();
    // Not final: the customer may try another card; the decline is recorded on the intent.
    const error = {
      type: 'card_error',
      code: 'card_declined',
      decline_code: 'insufficient_funds',
      message: 'Your card has insufficient funds.',
      charge: randomId('ch_'),
    };
    Object.assign(st.obj, {
      status: 'requires_payment_method',
      last_payment_error: error,
      latest_charge: error.charge,
      next_action: null,
    });
    if (st.readerId) setReaderAction(st.readerId, st.obj.id as string, 'failed', error);
    return emit('payment_intent.payment_failed', st.obj, st.script, immediate);
  }

  function applyOutcome(st: IntentState, outcome: 'success' | 'decline' | 'abandon', immediate = false): Promise<void> {
    if (outcome === 'success') return succeedIntent(st, immediate);
    if (outcome === 'decline') return declineIntent(st, immediate);
    return Promise.resolve();
  }

  function setReaderAction(
    readerId: string,
    piId: string,
    status: string,
    error?: { code: string; message: string },
  ): void {
    const reader = readers.get(readerId);
    if (!reader?.action) return;
    const action = reader.action;
    if ((action.process_payment_intent as Json | undefined)?.payment_intent !== piId) return;
    Object.assign(action, { status, failure_code: error?.code ?? null, failure_message: error?.message ?? null });
  }

  function cancelIntent(st: IntentState, reason: string | undefined): Promise<void> {
    st.settled = true;
    Object.assign(st.obj, {
      status: 'canceled',
      canceled_at: now(),
      cancellation_reason: reason ?? null,
      next_action: null,
    });
    if (st.readerId) {
      const reader = readers.get(st.readerId);
      if ((reader?.action?.process_payment_intent as Json | undefined)?.payment_intent === st.obj.id)
        reader!.action = null;
    }
    return emit('payment_intent.canceled', st.obj, st.script);
  }

  function payCheckout(st: SessionState, outcome: 'success' | 'decline' | 'abandon', immediate = false): Promise<void> {
    if (st.obj.status !== 'open' || outcome !== 'success') return Promise.resolve(); // a declined card leaves the page open
    const pi = newIntent({
      amount: st.obj.amount_total as number,
      currency: st.obj.currency as string,
      metadata: (st.obj as { payment_intent_metadata?: Record<string, string> }).payment_intent_metadata ?? {},
      paymentMethodTypes: ['card'],
      captureMethod: 'automatic',
      script: st.script,
    });
    Object.assign(pi.obj, {
      status: 'succeeded',
      amount_received: pi.obj.amount,
      latest_charge: randomId('ch_'),
      payment_method: randomId('pm_'),
    });
    pi.settled = true;
    Object.assign(st.obj, { status: 'complete', payment_status: 'paid', payment_intent: pi.obj.id });
    return emit('checkout.session.completed', publicSession(st), st.script, immediate);
  }

  function expireCheckout(st: SessionState, immediate = false): Promise<void> {
    if (st.obj.status !== 'open') return Promise.resolve();
    Object.assign(st.obj, { status: 'expired' });
    return emit('checkout.session.expired', publicSession(st), st.script, immediate);
  }

  function expireDueSessions(): void {
    for (const st of sessions.values()) {
      if (st.obj.status === 'open' && (st.obj.expires_at as number) <= now()) void expireCheckout(st);
    }
  }

  function publicSession(st: SessionState): Json {
    const { payment_intent_metadata: _hidden, ...rest } = st.obj as Json & { payment_intent_metadata?: unknown };
    return rest;
  }

  function newIntent(p: {
    amount: number;
    currency: string;
    metadata: Record<string, string>;
    paymentMethodTypes: string[];
    captureMethod: string;
    description?: string;
    script: GatewayScript;
    template?: Json;
  }): IntentState {
    const id = randomId('pi_');
    const obj: Json = {
      ...(p.template ?? { object: 'payment_intent' }),
      id,
      object: 'payment_intent',
      amount: p.amount,
      amount_capturable: 0,
      amount_received: 0,
      application: null,
      application_fee_amount: null,
      automatic_payment_methods: null,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: p.captureMethod,
      client_secret: `${id}_secret_${randomBytes(12).toString('hex')}`,
      confirmation_method: 'automatic',
      created: now(),
      currency: p.currency,
      customer: null,
      description: p.description ?? null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      metadata: p.metadata,
      next_action: null,
      on_behalf_of: null,
      payment_method: null,
      payment_method_types: p.paymentMethodTypes,
      processing: null,
      receipt_email: null,
      review: null,
      setup_future_usage: null,
      shipping: null,
      status: 'requires_payment_method',
      transfer_data: null,
      transfer_group: null,
    };
    const st: IntentState = { obj, script: p.script, settled: false, refunded: 0 };
    intents.set(id, st);
    return st;
  }

  // ---- endpoints ---------------------------------------------------------------------------

  function notFound(kind: string, id: string, param: string): Reply {
    return stripeError(404, 'invalid_request_error', `No such ${kind}: '${id}'`, { code: 'resource_missing', param });
  }

  function unexpectedState(st: IntentState, action: string): Reply {
    return stripeError(
      400,
      'invalid_request_error',
      `You cannot ${action} this PaymentIntent because it has a status of ${st.obj.status}.`,
      { code: 'payment_intent_unexpected_state', payment_intent: structuredClone(st.obj) },
    );
  }

  /** The script for a request, from its body (creates) or the object it names. */
  function scriptFor(method: string, parts: string[], params: Params): GatewayScript | undefined {
    if (parts[1] === 'payment_intents') {
      if (method === 'POST' && parts.length === 2)
        return scripts.find(int(params.amount), strings(params.metadata).paymentId);
      return intents.get(parts[2])?.script;
    }
    if (parts[1] === 'checkout' && parts[2] === 'sessions') {
      if (method === 'POST' && parts.length === 3) {
        const items = Array.isArray(params.line_items) ? params.line_items : [];
        const total = items.reduce<number>((sum, li) => {
          const o = obj(li);
          return sum + (int(obj(o.price_data).unit_amount) ?? 0) * (int(o.quantity) ?? 1);
        }, 0);
        return scripts.find(total, strings(params.metadata).paymentId ?? str(params.client_reference_id));
      }
      return sessions.get(parts[3])?.script;
    }
    if (parts[1] === 'terminal' && parts[2] === 'readers' && parts[4] === 'process_payment_intent') {
      return intents.get(str(params.payment_intent) ?? '')?.script;
    }
    if (parts[1] === 'refunds' && method === 'POST') return intents.get(str(params.payment_intent) ?? '')?.script;
    return undefined;
  }

  async function handle(
    method: string,
    parts: string[],
    params: Params,
    template: Json,
    firstTime: { hangUsed: (s: GatewayScript) => boolean },
  ): Promise<Reply | undefined> {
    const [, resource, a, b, c] = parts; // parts[0] === 'v1'
    // ---- PaymentIntents
    if (resource === 'payment_intents') {
      if (method === 'POST' && parts.length === 2) {
        const metadata = strings(params.metadata);
        const types = Array.isArray(params.payment_method_types)
          ? params.payment_method_types.filter((x): x is string => typeof x === 'string')
          : ['card'];
        const st = newIntent({
          amount: int(params.amount)!,
          currency: str(params.currency)!,
          metadata,
          paymentMethodTypes: types,
          captureMethod: str(params.capture_method) ?? 'automatic_async',
          description: str(params.description),
          script: scripts.find(int(params.amount), metadata.paymentId),
          template,
        });
        if (metadata.readerId) st.readerId = metadata.readerId;
        return { status: 200, body: st.obj };
      }
      const st = intents.get(a);
      if (!st) return notFound('payment_intent', a, 'intent');
      if (method === 'GET' && parts.length === 3) return { status: 200, body: st.obj };
      if (method === 'POST' && b === 'confirm') {
        if (!['requires_payment_method', 'requires_confirmation', 'requires_action'].includes(st.obj.status as string))
          return unexpectedState(st, 'confirm');
        const pm = str(params.payment_method);
        if (!pm)
          return stripeError(
            400,
            'invalid_request_error',
            'You must provide a payment_method to confirm this PaymentIntent.',
            { code: 'parameter_missing', param: 'payment_method' },
          );
        st.obj.payment_method = pm;
        st.settled = false;
        let outcome = effectiveOutcome(st.script);
        // Unscripted payments follow Stripe's test payment methods (pm_card_chargeDeclined, …).
        if (scripts.isDefault(st.script) && /declined/i.test(pm)) outcome = 'decline';
        if (/authenticationRequired|threeDSecure/i.test(pm) && outcome === 'success') {
          Object.assign(st.obj, {
            status: 'requires_action',
            next_action: { type: 'use_stripe_sdk', use_stripe_sdk: {} },
          });
          return { status: 200, body: st.obj };
        }
        const hang =
          st.script.outcome === 'timeout' && firstTime.hangUsed(st.script) ? (st.script.hangMs ?? 10_000) : undefined;
        const before = st.script.webhookBeforeResponse;
        if (outcome === 'decline') {
          const delivered = declineIntent(st, before);
          const err = st.obj.last_payment_error as Json;
          return {
            ...stripeError(402, 'card_error', err.message as string, {
              code: err.code,
              decline_code: err.decline_code,
              charge: err.charge,
              payment_intent: structuredClone(st.obj),
            }),
            before: before ? delivered : undefined,
            hang,
          };
        }
        if (outcome === 'abandon') {
          Object.assign(st.obj, {
            status: 'requires_action',
            next_action: { type: 'use_stripe_sdk', use_stripe_sdk: {} },
          });
          return { status: 200, body: st.obj, hang };
        }
        const delivered = succeedIntent(st, before);
        return { status: 200, body: st.obj, before: before ? delivered : undefined, hang };
      }
      if (method === 'POST' && b === 'cancel') {
        if (st.obj.status === 'canceled') return { status: 200, body: st.obj };
        if (st.obj.status !== 'succeeded' && st.script.lateSuccessAfterCancel) void succeedIntent(st);
        if (st.obj.status === 'succeeded') return unexpectedState(st, 'cancel');
        void cancelIntent(st, str(params.cancellation_reason));
        return { status: 200, body: st.obj };
      }
      return undefined;
    }
    // ---- Terminal readers
    if (resource === 'terminal' && a === 'readers' && b) {
      const readerId = b;
      const reader = readers.get(readerId) ?? { action: null };
      readers.set(readerId, reader);
      const readerBody = () => ({
        ...template,
        id: readerId,
        object: 'terminal.reader',
        status: 'online',
        action: reader.action,
      });
      if (method === 'POST' && c === 'process_payment_intent') {
        const piId = str(params.payment_intent) ?? '';
        const st = intents.get(piId);
        if (!st) return notFound('payment_intent', piId, 'payment_intent');
        if (
          reader.action?.status === 'in_progress' &&
          (reader.action.process_payment_intent as Json).payment_intent !== piId
        ) {
          return stripeError(400, 'invalid_request_error', 'Reader is currently busy processing another request.', {
            code: 'terminal_reader_busy',
          });
        }
        if (!['requires_payment_method', 'requires_confirmation'].includes(st.obj.status as string))
          return unexpectedState(st, 'process');
        st.readerId = readerId;
        st.settled = false;
        reader.action = {
          type: 'process_payment_intent',
          status: 'in_progress',
          failure_code: null,
          failure_message: null,
          process_payment_intent: { payment_intent: piId },
        };
        const outcome = effectiveOutcome(st.script);
        const hang =
          st.script.outcome === 'timeout' && firstTime.hangUsed(st.script) ? (st.script.hangMs ?? 10_000) : undefined;
        if (st.script.webhookBeforeResponse) {
          const delivered = applyOutcome(st, outcome, true);
          return { status: 200, body: readerBody(), before: delivered, hang };
        }
        const body = structuredClone(readerBody());
        const present = () =>
          !st.settled && reader.action && (reader.action.process_payment_intent as Json).payment_intent === piId
            ? applyOutcome(st, outcome)
            : Promise.resolve();
        if (st.script.awaitCard) awaitingCard.set(piId, present);
        else timers.after(st.script.outcomeDelayMs ?? 25, () => void present());
        return { status: 200, body, hang };
      }
      if (method === 'POST' && c === 'cancel_action') {
        const piId = (reader.action?.process_payment_intent as Json | undefined)?.payment_intent as string | undefined;
        const st = piId ? intents.get(piId) : undefined;
        if (st && !st.settled && st.script.lateSuccessAfterCancel) {
          void succeedIntent(st);
          return stripeError(400, 'invalid_request_error', 'This reader action has already completed.', {
            code: 'terminal_reader_action_completed',
          });
        }
        if (reader.action?.status === 'in_progress') reader.action = null;
        return { status: 200, body: readerBody() };
      }
      if (method === 'GET' && !c) return { status: 200, body: readerBody() };
      return undefined;
    }
    // ---- Refunds
    if (resource === 'refunds') {
      if (method === 'POST' && parts.length === 2) {
        const piId = str(params.payment_intent) ?? '';
        const st = intents.get(piId);
        if (!st) return notFound('payment_intent', piId, 'payment_intent');
        if (st.obj.status !== 'succeeded') {
          return stripeError(
            400,
            'invalid_request_error',
            `This PaymentIntent (${piId}) does not have a successful charge to refund.`,
            { code: 'charge_not_refundable' },
          );
        }
        const remaining = (st.obj.amount_received as number) - st.refunded;
        const amount = int(params.amount) ?? remaining;
        if (remaining <= 0)
          return stripeError(
            400,
            'invalid_request_error',
            `Charge ${st.obj.latest_charge} has already been refunded.`,
            { code: 'charge_already_refunded' },
          );
        if (amount > remaining) {
          return stripeError(
            400,
            'invalid_request_error',
            `Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining})`,
            { code: 'amount_too_large', param: 'amount' },
          );
        }
        st.refunded += amount;
        const refund: Json = {
          ...template,
          id: randomId('re_'),
          object: 'refund',
          amount,
          currency: st.obj.currency,
          payment_intent: piId,
          charge: st.obj.latest_charge,
          status: 'succeeded',
          reason: str(params.reason) ?? null,
          metadata: strings(params.metadata),
          created: now(),
          failure_reason: null,
        };
        refunds.set(refund.id as string, refund);
        return { status: 200, body: refund };
      }
      if (method === 'GET' && a)
        return refunds.has(a) ? { status: 200, body: refunds.get(a) } : notFound('refund', a, 'refund');
      return undefined;
    }
    // ---- Checkout Sessions
    if (resource === 'checkout' && a === 'sessions') {
      if (method === 'POST' && parts.length === 3) {
        const items = Array.isArray(params.line_items) ? params.line_items.map(obj) : [];
        const currency = str(obj(items[0]?.price_data).currency) ?? 'usd';
        const total = items.reduce(
          (sum, li) => sum + (int(obj(li.price_data).unit_amount) ?? 0) * (int(li.quantity) ?? 1),
          0,
        );
        const expiresAt = int(params.expires_at) ?? now() + 24 * 3600;
        // Stripe's own limits: 30 minutes to 24 hours from creation.
        if (expiresAt < now() + 30 * 60 || expiresAt > now() + 24 * 3600) {
          return stripeError(
            400,
            'invalid_request_error',
            'The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.',
            { param: 'expires_at' },
          );
        }
        const metadata = strings(params.metadata);
        const id = randomId('cs_test_a1', 56);
        const st: SessionState = {
          script: scripts.find(total, metadata.paymentId ?? str(params.client_reference_id)),
          obj: {
            ...template,
            id,
            object: 'checkout.session',
            mode: str(params.mode) ?? 'payment',
            status: 'open',
            payment_status: 'unpaid',
            amount_subtotal: total,
            amount_total: total,
            currency,
            metadata,
            client_reference_id: str(params.client_reference_id) ?? null,
            created: now(),
            expires_at: expiresAt,
            livemode: false,
            payment_intent: null,
            customer: null,
            success_url: str(params.success_url) ?? null,
            cancel_url: str(params.cancel_url) ?? null,
            url: `${baseUrl}/pay/${id}`,
            payment_intent_metadata: strings(obj(params.payment_intent_data).metadata),
          },
        };
        sessions.set(id, st);
        const outcome = effectiveOutcome(st.script);
        const hang =
          st.script.outcome === 'timeout' && firstTime.hangUsed(st.script) ? (st.script.hangMs ?? 10_000) : undefined;
        if (st.script.webhookBeforeResponse) {
          const body = structuredClone(publicSession(st)); // the answer shows the session as created
          return { status: 200, body, before: payCheckout(st, outcome, true), hang };
        }
        timers.after(st.script.outcomeDelayMs ?? 25, () => payCheckout(st, outcome));
        return { status: 200, body: publicSession(st), hang };
      }
      const st = sessions.get(b ?? '');
      if (!st) return notFound('checkout.session', b ?? '', 'session');
      if (method === 'GET' && parts.length === 4) return { status: 200, body: publicSession(st) };
      if (method === 'POST' && c === 'expire') {
        if (st.obj.status === 'open' && st.script.lateSuccessAfterCancel) void payCheckout(st, 'success');
        if (st.obj.status !== 'open') {
          return stripeError(
            400,
            'invalid_request_error',
            `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${st.obj.status}".`,
            { code: 'checkout_session_not_open' },
          );
        }
        void expireCheckout(st);
        return { status: 200, body: publicSession(st) };
      }
      return undefined;
    }
    return undefined;
  }

  // ---- HTTP --------------------------------------------------------------------------------

  const hangingScripts = new WeakSet<GatewayScript>();
  const firstTime = {
    /** True the first time a 'timeout' script's initiating request arrives. */
    hangUsed(s: GatewayScript): boolean {
      if (hangingScripts.has(s)) return false;
      hangingScripts.add(s);
      return true;
    },
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://sim');
      const method = req.method ?? 'GET';
      requestLog.push(`${method} ${url.pathname}`);
      const parts = url.pathname.split('/').filter(Boolean);
      const send = (status: number, payload: string, headers: Record<string, string> = {}) => {
        if (res.headersSent || res.destroyed) return;
        res.writeHead(status, {
          'content-type': 'application/json',
          'request-id': randomId('req_', 14),
          'stripe-version': '2025-09-30.clover',
          ...headers,
        });
        res.end(payload);
      };

      // The hosted QR page (what the customer's phone opens).
      if (parts[0] === 'pay' && parts[1]) {
        const st = sessions.get(parts[1]);
        if (!st) return send(404, JSON.stringify({ error: 'no such checkout session' }));
        expireDueSessions();
        if (method === 'POST') await payCheckout(st, 'success');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(
          `<!doctype html><meta name="viewport" content="width=device-width"><title>Pay</title>` +
            `<h1>${((st.obj.amount_total as number) / 100).toFixed(2)} ${String(st.obj.currency).toUpperCase()}</h1>` +
            `<p>Status: ${st.obj.status} / ${st.obj.payment_status} (simulated Stripe Checkout)</p>` +
            (st.obj.status === 'open' ? `<form method="post"><button>Pay</button></form>` : ''),
        );
        return;
      }
      if (parts[0] !== 'v1')
        return send(
          404,
          JSON.stringify({
            error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${url.pathname}).` },
          }),
        );

      expireDueSessions();
      const params = method === 'GET' || method === 'DELETE' ? {} : parseStripeForm(body);
      const script = scriptFor(method, parts, params);
      if (script && scripts.take5xx(script)) {
        return send(
          500,
          JSON.stringify({ error: { type: 'api_error', message: 'An unknown error occurred (simulated 500)' } }),
        );
      }

      // Idempotency, as Stripe does it: same key + same request → the saved answer; same key +
      // different request → 400. Keys are per API key.
      const idemKey = method === 'POST' ? (req.headers['idempotency-key'] as string | undefined) : undefined;
      if (idemKey && idemKey.length > 255) {
        return send(
          400,
          JSON.stringify({
            error: {
              type: 'invalid_request_error',
              message: `Invalid idempotency key: must be at most 255 characters long.`,
            },
          }),
        );
      }
      const savedKey = idemKey ? `${req.headers.authorization ?? ''} ${idemKey}` : undefined;
      const fingerprint = `${method} ${url.pathname} ${body}`;
      if (savedKey && saved.has(savedKey)) {
        const prior = saved.get(savedKey)!;
        if (prior.fingerprint !== fingerprint) {
          return send(
            400,
            JSON.stringify({
              error: {
                type: 'idempotency_error',
                message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to execute a different request.`,
              },
            }),
          );
        }
        return send(prior.status, prior.body, { 'idempotent-replayed': 'true', 'idempotency-key': idemKey! });
      }

      // stripe-mock validates the request against Stripe's OpenAPI spec (and auth, version, content
      // type); its answer's shape is the template for ours.
      let validated: { status: number; body: string };
      try {
        validated = await forward(mock.socketPath, req, body);
      } catch (err) {
        return send(
          502,
          JSON.stringify({
            error: { type: 'api_error', message: `stripe-mock unavailable: ${(err as Error).message}` },
          }),
        );
      }
      if (validated.status >= 400) return send(validated.status, validated.body);
      let template: Json = {};
      try {
        template = JSON.parse(validated.body) as Json;
      } catch {
        /* not JSON: pass through below */
      }

      const reply = await handle(method, parts, params, template, firstTime);
      if (!reply) return send(validated.status, validated.body); // endpoints we keep no state for
      const payload = JSON.stringify(reply.body, null, 2);
      if (savedKey && reply.status !== 404) saved.set(savedKey, { fingerprint, status: reply.status, body: payload });
      if (reply.before) await reply.before;
      if (reply.hang !== undefined) {
        // The work is done and saved; the answer is lost. Drop the connection once the client gives up or hangMs passes.
        timers.after(reply.hang, () => {
          res.destroy();
        });
        return;
      }
      send(reply.status, payload, idemKey ? { 'idempotency-key': idemKey } : {});
    })().catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: { type: 'api_error', message: `simulator error: ${(err as Error).message}` } }),
        );
      }
    });
  });

  let port: number;
  try {
    port = await listen(server, opts.port);
  } catch (err) {
    await mock.stop();
    throw err;
  }
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    host: '127.0.0.1',
    port,
    protocol: 'http',
    secretKey,
    webhookSecret,
    config: (overrides = {}) => ({
      secretKey,
      webhookSecret,
      host: '127.0.0.1',
      port,
      protocol: 'http',
      sandbox: true,
      ...overrides,
    }),
    setWebhookUrl(url) {
      webhookUrl = url;
    },
    script(match, s) {
      scripts.set(match, s);
    },
    paymentIntents: () => [...intents.values()].map((s) => structuredClone(s.obj)),
    checkoutSessions: () => [...sessions.values()].map((s) => structuredClone(publicSession(s))),
    refunds: () => [...refunds.values()].map((r) => structuredClone(r)),
    webhooks: () => deliveries.map((d) => ({ ...d })),
    requests: () => [...requestLog],
    advanceTime(seconds) {
      // Time passes for what exists (new objects are unaffected): shift their clocks back.
      for (const st of sessions.values()) {
        (st.obj.created as number) -= seconds;
        (st.obj.expires_at as number) -= seconds;
      }
      for (const st of intents.values()) (st.obj.created as number) -= seconds;
      expireDueSessions();
    },
    async completeCheckout(sessionId, outcome = 'success') {
      const st = sessions.get(sessionId);
      if (!st) throw new Error(`no checkout session ${sessionId}`);
      await payCheckout(st, outcome);
    },
    async presentCard(paymentIntentId) {
      const present = awaitingCard.get(paymentIntentId);
      if (!present) throw new Error(`no reader is waiting for a card for ${paymentIntentId}`);
      awaitingCard.delete(paymentIntentId);
      await present();
    },
    async close() {
      timers.clear();
      await closeServer(server);
      await mock.stop();
    },
  };
}
