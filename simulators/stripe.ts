import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import type { StripeConfig } from '../core/gateway';
import { memoryState, type SimState } from './state';
import {
  HangOnce,
  ScriptBook,
  SimTimers,
  closeServer,
  deliverWebhook,
  effectiveOutcome,
  finishReply,
  listen,
  randomId,
  readBody,
  type GatewayScript,
  type Reply,
  type WebhookDelivery,
} from './http';

// Scripts are shared by the card simulators; callers have always imported them from here.
export type { GatewayScript, WebhookDelivery } from './http';

/*
 * Stripe simulator: the real stripe-mock (Stripe's OpenAPI-driven mock) validates every request,
 * and a small stateful proxy in front of it keeps what stripe-mock forgets — PaymentIntents,
 * Checkout Sessions, refunds, readers, idempotency keys — moves them through their lifecycles per
 * a per-test script, and sends signed webhooks. The adapter talks to the proxy exactly as it
 * would to api.stripe.com (host/port/protocol).
 */

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

/** The body of an error the proxy answers itself (before or around the endpoint logic). */
function errorJson(type: string, message: string): string {
  return JSON.stringify({ error: { type, message } });
}

/** Answers like api.stripe.com does (request id and API version headers). */
function sendStripe(res: http.ServerResponse, status: number, payload: string, headers: Record<string, string> = {}) {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'content-type': 'application/json',
    'request-id': randomId('req_', 14),
    'stripe-version': '2025-09-30.clover',
    ...headers,
  });
  res.end(payload);
}

type Send = (status: number, payload: string, headers?: Record<string, string>) => void;

/** One API request once stripe-mock has accepted it: its answer's shape is the template for ours. */
interface ApiRequest {
  method: string;
  /** Path segments; parts[0] === 'v1'. */
  parts: string[];
  params: Params;
  template: Json;
}

/** How a POST takes part in idempotency: savedKey is set when it carries an Idempotency-Key. */
interface Idempotency {
  key?: string;
  savedKey?: string;
  fingerprint: string;
}

interface ReaderState {
  action: Json | null;
}

interface NewIntent {
  amount: number;
  currency: string;
  metadata: Record<string, string>;
  paymentMethodTypes: string[];
  captureMethod: string;
  description?: string;
  script: GatewayScript;
  template?: Json;
}

const CONFIRMABLE = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const PROCESSABLE = ['requires_payment_method', 'requires_confirmation'];

/** Sum of a Checkout Session's line items (unit_amount × quantity). */
function lineItemsTotal(lineItems: ParamValue | undefined): number {
  const items = Array.isArray(lineItems) ? lineItems.map(obj) : [];
  return items.reduce((sum, li) => sum + (int(obj(li.price_data).unit_amount) ?? 0) * (int(li.quantity) ?? 1), 0);
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The stateful proxy: its state, the lifecycles it drives, and one method per endpoint. */
class StripeSimulator {
  readonly secretKey: string;
  readonly webhookSecret: string;
  webhookUrl: string | undefined;
  readonly timers = new SimTimers();
  readonly scripts: ScriptBook;
  readonly intents: Map<string, IntentState>;
  readonly sessions: Map<string, SessionState>;
  readonly refunds: Map<string, Json>;
  private readonly readers: Map<string, ReaderState>;
  private readonly saved: Map<string, Saved>;
  readonly deliveries: WebhookDelivery[] = [];
  readonly requestLog: string[] = [];
  /** Readers scripted with awaitCard, by PaymentIntent id: what presenting the card does. */
  readonly awaitingCard = new Map<string, () => Promise<void>>();
  private readonly hangs = new HangOnce();
  readonly server: http.Server;
  baseUrl = '';

  constructor(
    opts: StripeSimOptions,
    readonly mock: StripeMockProcess,
  ) {
    this.secretKey = opts.secretKey ?? `sk_test_${randomBytes(12).toString('hex')}`;
    this.webhookSecret = opts.webhookSecret ?? `whsec_${randomBytes(16).toString('hex')}`;
    this.webhookUrl = opts.webhookUrl;
    this.scripts = new ScriptBook(opts.defaultScript ?? { outcome: 'success' });
    const state = opts.state ?? memoryState();
    this.intents = state.map<IntentState>('stripe.intents');
    this.sessions = state.map<SessionState>('stripe.sessions');
    this.refunds = state.map<Json>('stripe.refunds');
    this.readers = state.map<ReaderState>('stripe.readers');
    this.saved = state.map<Saved>('stripe.saved');
    this.server = http.createServer((req, res) => this.onRequest(req, res));
  }

  // ---- webhooks ----------------------------------------------------------------------------

  private sign(payload: string): Record<string, string> {
    const t = Math.floor(Date.now() / 1000);
    const v1 = createHmac('sha256', this.webhookSecret).update(`${t}.${payload}`, 'utf8').digest('hex');
    return { 'stripe-signature': `t=${t},v1=${v1}`, 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' };
  }

  /** Builds the event now (a snapshot of the object), delivers it after the script's delay. Resolves once delivered. */
  private emit(type: string, object: Json, script: GatewayScript, immediate = false): Promise<void> {
    const event = {
      id: randomId('evt_'),
      object: 'event',
      api_version: '2025-09-30.clover',
      created: nowSeconds(),
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
        this.deliveries.push(record);
        await deliverWebhook(this.timers, this.webhookUrl, body, () => this.sign(body), record);
      }
    };
    if (immediate) return send();
    return new Promise((resolve) => this.timers.after(script.webhookDelayMs ?? 10, () => send().then(resolve)));
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  succeedIntent(st: IntentState, immediate = false): Promise<void> {
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
    if (st.readerId) this.setReaderAction(st.readerId, st.obj.id as string, 'succeeded');
    return this.emit('payment_intent.succeeded', st.obj, st.script, immediate);
  }

  private declineIntent(st: IntentState, immediate = false): Promise<void> {
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
    if (st.readerId) this.setReaderAction(st.readerId, st.obj.id as string, 'failed', error);
    return this.emit('payment_intent.payment_failed', st.obj, st.script, immediate);
  }

  private applyOutcome(st: IntentState, outcome: 'success' | 'decline' | 'abandon', immediate = false): Promise<void> {
    if (outcome === 'success') return this.succeedIntent(st, immediate);
    if (outcome === 'decline') return this.declineIntent(st, immediate);
    return Promise.resolve();
  }

  private setReaderAction(
    readerId: string,
    piId: string,
    status: string,
    error?: { code: string; message: string },
  ): void {
    const reader = this.readers.get(readerId);
    if (!reader?.action) return;
    const action = reader.action;
    if ((action.process_payment_intent as Json | undefined)?.payment_intent !== piId) return;
    Object.assign(action, { status, failure_code: error?.code ?? null, failure_message: error?.message ?? null });
  }

  private cancelIntent(st: IntentState, reason: string | undefined): Promise<void> {
    st.settled = true;
    Object.assign(st.obj, {
      status: 'canceled',
      canceled_at: nowSeconds(),
      cancellation_reason: reason ?? null,
      next_action: null,
    });
    if (st.readerId) {
      const reader = this.readers.get(st.readerId);
      if ((reader?.action?.process_payment_intent as Json | undefined)?.payment_intent === st.obj.id)
        reader!.action = null;
    }
    return this.emit('payment_intent.canceled', st.obj, st.script);
  }

  payCheckout(st: SessionState, outcome: 'success' | 'decline' | 'abandon', immediate = false): Promise<void> {
    if (st.obj.status !== 'open' || outcome !== 'success') return Promise.resolve(); // a declined card leaves the page open
    const pi = this.newIntent({
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
    return this.emit('checkout.session.completed', publicSession(st), st.script, immediate);
  }

  private expireCheckout(st: SessionState, immediate = false): Promise<void> {
    if (st.obj.status !== 'open') return Promise.resolve();
    Object.assign(st.obj, { status: 'expired' });
    return this.emit('checkout.session.expired', publicSession(st), st.script, immediate);
  }

  expireDueSessions(): void {
    for (const st of this.sessions.values()) {
      if (st.obj.status === 'open' && (st.obj.expires_at as number) <= nowSeconds()) void this.expireCheckout(st);
    }
  }

  private newIntent(p: NewIntent): IntentState {
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
      created: nowSeconds(),
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
    this.intents.set(id, st);
    return st;
  }

  private hangFor(s: GatewayScript): number | undefined {
    return this.hangs.hangFor(s);
  }

  // ---- endpoints ---------------------------------------------------------------------------

  /** The script for a request, from its body (creates) or the object it names. */
  private scriptFor(method: string, parts: string[], params: Params): GatewayScript | undefined {
    if (parts[1] === 'payment_intents') {
      if (method === 'POST' && parts.length === 2)
        return this.scripts.find(int(params.amount), strings(params.metadata).paymentId);
      return this.intents.get(parts[2])?.script;
    }
    if (parts[1] === 'checkout' && parts[2] === 'sessions') {
      if (method === 'POST' && parts.length === 3) {
        const paymentId = strings(params.metadata).paymentId ?? str(params.client_reference_id);
        return this.scripts.find(lineItemsTotal(params.line_items), paymentId);
      }
      return this.sessions.get(parts[3])?.script;
    }
    if (parts[1] === 'terminal' && parts[2] === 'readers' && parts[4] === 'process_payment_intent') {
      return this.intents.get(str(params.payment_intent) ?? '')?.script;
    }
    if (parts[1] === 'refunds' && method === 'POST') return this.intents.get(str(params.payment_intent) ?? '')?.script;
    return undefined;
  }

  /** The endpoints we keep state for; undefined passes stripe-mock's answer through. */
  private handle(r: ApiRequest): Reply | undefined {
    const [, resource, a, b] = r.parts;
    if (resource === 'payment_intents') return this.intentRoute(r);
    if (resource === 'terminal' && a === 'readers' && b) return this.readerRoute(r);
    if (resource === 'refunds') return this.refundRoute(r);
    if (resource === 'checkout' && a === 'sessions') return this.sessionRoute(r);
    return undefined;
  }

  // ---- PaymentIntents

  private intentRoute(r: ApiRequest): Reply | undefined {
    const [, , id, action] = r.parts;
    if (r.method === 'POST' && r.parts.length === 2) return this.createIntent(r);
    const st = this.intents.get(id);
    if (!st) return notFound('payment_intent', id, 'intent');
    if (r.method === 'GET' && r.parts.length === 3) return { status: 200, body: st.obj };
    if (r.method === 'POST' && action === 'confirm') return this.confirmIntent(st, r.params);
    if (r.method === 'POST' && action === 'cancel') return this.cancelIntentRoute(st, r.params);
    return undefined;
  }

  private createIntent({ params, template }: ApiRequest): Reply {
    const metadata = strings(params.metadata);
    const types = Array.isArray(params.payment_method_types)
      ? params.payment_method_types.filter((x): x is string => typeof x === 'string')
      : ['card'];
    const st = this.newIntent({
      amount: int(params.amount)!,
      currency: str(params.currency)!,
      metadata,
      paymentMethodTypes: types,
      captureMethod: str(params.capture_method) ?? 'automatic_async',
      description: str(params.description),
      script: this.scripts.find(int(params.amount), metadata.paymentId),
      template,
    });
    if (metadata.readerId) st.readerId = metadata.readerId;
    return { status: 200, body: st.obj };
  }

  private confirmIntent(st: IntentState, params: Params): Reply {
    if (!CONFIRMABLE.includes(st.obj.status as string)) return unexpectedState(st, 'confirm');
    const pm = str(params.payment_method);
    if (!pm)
      return stripeError(
        400,
        'invalid_request_error',
        'You must provide a payment_method to confirm this PaymentIntent.',
        {
          code: 'parameter_missing',
          param: 'payment_method',
        },
      );
    st.obj.payment_method = pm;
    st.settled = false;
    let outcome = effectiveOutcome(st.script);
    // Unscripted payments follow Stripe's test payment methods (pm_card_chargeDeclined, …).
    if (this.scripts.isDefault(st.script) && /declined/i.test(pm)) outcome = 'decline';
    if (/authenticationRequired|threeDSecure/i.test(pm) && outcome === 'success') return requireAction(st);
    const hang = this.hangFor(st.script);
    const before = st.script.webhookBeforeResponse;
    if (outcome === 'decline') {
      const delivered = this.declineIntent(st, before);
      return { ...declineReply(st), before: before ? delivered : undefined, hang };
    }
    if (outcome === 'abandon') return { ...requireAction(st), hang };
    const delivered = this.succeedIntent(st, before);
    return { status: 200, body: st.obj, before: before ? delivered : undefined, hang };
  }

  private cancelIntentRoute(st: IntentState, params: Params): Reply {
    if (st.obj.status === 'canceled') return { status: 200, body: st.obj };
    if (st.obj.status !== 'succeeded' && st.script.lateSuccessAfterCancel) void this.succeedIntent(st);
    if (st.obj.status === 'succeeded') return unexpectedState(st, 'cancel');
    void this.cancelIntent(st, str(params.cancellation_reason));
    return { status: 200, body: st.obj };
  }

  // ---- Terminal readers

  private readerRoute(r: ApiRequest): Reply | undefined {
    const [, , , readerId, action] = r.parts;
    const reader = this.readers.get(readerId) ?? { action: null };
    this.readers.set(readerId, reader);
    const readerBody = () => ({
      ...r.template,
      id: readerId,
      object: 'terminal.reader',
      status: 'online',
      action: reader.action,
    });
    if (r.method === 'POST' && action === 'process_payment_intent')
      return this.processOnReader(readerId, reader, r.params, readerBody);
    if (r.method === 'POST' && action === 'cancel_action') return this.cancelReaderAction(reader, readerBody);
    if (r.method === 'GET' && !action) return { status: 200, body: readerBody() };
    return undefined;
  }

  private processOnReader(readerId: string, reader: ReaderState, params: Params, readerBody: () => Json): Reply {
    const piId = str(params.payment_intent) ?? '';
    const st = this.intents.get(piId);
    if (!st) return notFound('payment_intent', piId, 'payment_intent');
    if (
      reader.action?.status === 'in_progress' &&
      (reader.action.process_payment_intent as Json).payment_intent !== piId
    ) {
      return stripeError(400, 'invalid_request_error', 'Reader is currently busy processing another request.', {
        code: 'terminal_reader_busy',
      });
    }
    if (!PROCESSABLE.includes(st.obj.status as string)) return unexpectedState(st, 'process');
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
    const hang = this.hangFor(st.script);
    if (st.script.webhookBeforeResponse) {
      const delivered = this.applyOutcome(st, outcome, true);
      return { status: 200, body: readerBody(), before: delivered, hang };
    }
    const body = structuredClone(readerBody());
    const present = () =>
      !st.settled && reader.action && (reader.action.process_payment_intent as Json).payment_intent === piId
        ? this.applyOutcome(st, outcome)
        : Promise.resolve();
    if (st.script.awaitCard) this.awaitingCard.set(piId, present);
    else this.timers.after(st.script.outcomeDelayMs ?? 25, () => void present());
    return { status: 200, body, hang };
  }

  private cancelReaderAction(reader: ReaderState, readerBody: () => Json): Reply {
    const piId = (reader.action?.process_payment_intent as Json | undefined)?.payment_intent as string | undefined;
    const st = piId ? this.intents.get(piId) : undefined;
    if (st && !st.settled && st.script.lateSuccessAfterCancel) {
      void this.succeedIntent(st);
      return stripeError(400, 'invalid_request_error', 'This reader action has already completed.', {
        code: 'terminal_reader_action_completed',
      });
    }
    if (reader.action?.status === 'in_progress') reader.action = null;
    return { status: 200, body: readerBody() };
  }

  // ---- Refunds

  private refundRoute(r: ApiRequest): Reply | undefined {
    const id = r.parts[2];
    if (r.method === 'POST' && r.parts.length === 2) return this.createRefund(r);
    if (r.method === 'GET' && id)
      return this.refunds.has(id) ? { status: 200, body: this.refunds.get(id) } : notFound('refund', id, 'refund');
    return undefined;
  }

  private createRefund({ params, template }: ApiRequest): Reply {
    const piId = str(params.payment_intent) ?? '';
    const st = this.intents.get(piId);
    if (!st) return notFound('payment_intent', piId, 'payment_intent');
    const refusal = refundRefusal(st, piId, params);
    if (refusal) return refusal;
    const amount = int(params.amount) ?? (st.obj.amount_received as number) - st.refunded;
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
      created: nowSeconds(),
      failure_reason: null,
    };
    this.refunds.set(refund.id as string, refund);
    return { status: 200, body: refund };
  }

  // ---- Checkout Sessions

  private sessionRoute(r: ApiRequest): Reply | undefined {
    const [, , , id, action] = r.parts;
    if (r.method === 'POST' && r.parts.length === 3) return this.createSession(r);
    const st = this.sessions.get(id ?? '');
    if (!st) return notFound('checkout.session', id ?? '', 'session');
    if (r.method === 'GET' && r.parts.length === 4) return { status: 200, body: publicSession(st) };
    if (r.method === 'POST' && action === 'expire') return this.expireSession(st);
    return undefined;
  }

  private createSession({ params, template }: ApiRequest): Reply {
    const expiresAt = int(params.expires_at) ?? nowSeconds() + 24 * 3600;
    // Stripe's own limits: 30 minutes to 24 hours from creation.
    if (expiresAt < nowSeconds() + 30 * 60 || expiresAt > nowSeconds() + 24 * 3600) {
      return stripeError(
        400,
        'invalid_request_error',
        'The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.',
        { param: 'expires_at' },
      );
    }
    const st = this.newSession(params, template, expiresAt);
    this.sessions.set(st.obj.id as string, st);
    const outcome = effectiveOutcome(st.script);
    const hang = this.hangFor(st.script);
    if (st.script.webhookBeforeResponse) {
      const body = structuredClone(publicSession(st)); // the answer shows the session as created
      return { status: 200, body, before: this.payCheckout(st, outcome, true), hang };
    }
    this.timers.after(st.script.outcomeDelayMs ?? 25, () => this.payCheckout(st, outcome));
    return { status: 200, body: publicSession(st), hang };
  }

  private newSession(params: Params, template: Json, expiresAt: number): SessionState {
    const items = Array.isArray(params.line_items) ? params.line_items.map(obj) : [];
    const total = lineItemsTotal(params.line_items);
    const metadata = strings(params.metadata);
    const id = randomId('cs_test_a1', 56);
    return {
      script: this.scripts.find(total, metadata.paymentId ?? str(params.client_reference_id)),
      obj: {
        ...template,
        id,
        object: 'checkout.session',
        mode: str(params.mode) ?? 'payment',
        status: 'open',
        payment_status: 'unpaid',
        amount_subtotal: total,
        amount_total: total,
        currency: str(obj(items[0]?.price_data).currency) ?? 'usd',
        metadata,
        client_reference_id: str(params.client_reference_id) ?? null,
        created: nowSeconds(),
        expires_at: expiresAt,
        livemode: false,
        payment_intent: null,
        customer: null,
        success_url: str(params.success_url) ?? null,
        cancel_url: str(params.cancel_url) ?? null,
        url: `${this.baseUrl}/pay/${id}`,
        payment_intent_metadata: strings(obj(params.payment_intent_data).metadata),
      },
    };
  }

  private expireSession(st: SessionState): Reply {
    if (st.obj.status === 'open' && st.script.lateSuccessAfterCancel) void this.payCheckout(st, 'success');
    if (st.obj.status !== 'open') {
      return stripeError(
        400,
        'invalid_request_error',
        `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${st.obj.status}".`,
        { code: 'checkout_session_not_open' },
      );
    }
    void this.expireCheckout(st);
    return { status: 200, body: publicSession(st) };
  }

  // ---- HTTP --------------------------------------------------------------------------------

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    void this.serve(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: { type: 'api_error', message: `simulator error: ${(err as Error).message}` } }),
        );
      }
    });
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = req.method ?? 'GET';
    this.requestLog.push(`${method} ${url.pathname}`);
    const parts = url.pathname.split('/').filter(Boolean);
    const send: Send = (status, payload, headers = {}) => sendStripe(res, status, payload, headers);
    if (parts[0] === 'pay' && parts[1]) return this.servePayPage(parts[1], method, res, send);
    if (parts[0] !== 'v1')
      return send(404, errorJson('invalid_request_error', `Unrecognized request URL (${method}: ${url.pathname}).`));
    this.expireDueSessions();
    const params = method === 'GET' || method === 'DELETE' ? {} : parseStripeForm(body);
    const script = this.scriptFor(method, parts, params);
    if (script && this.scripts.take5xx(script))
      return send(500, errorJson('api_error', 'An unknown error occurred (simulated 500)'));
    const idem = this.idempotency(req, method, `${method} ${url.pathname} ${body}`, send);
    if (!idem) return;
    const validated = await this.validate(req, body, send);
    if (!validated) return;
    if (validated.status >= 400) return send(validated.status, validated.body);
    let template: Json = {};
    try {
      template = JSON.parse(validated.body) as Json;
    } catch {
      /* not JSON: pass through below */
    }
    const reply = this.handle({ method, parts, params, template });
    if (!reply) return send(validated.status, validated.body); // endpoints we keep no state for
    await this.answer(res, reply, idem, send);
  }

  /** The hosted QR page (what the customer's phone opens). */
  private async servePayPage(sessionId: string, method: string, res: http.ServerResponse, send: Send): Promise<void> {
    const st = this.sessions.get(sessionId);
    if (!st) return send(404, JSON.stringify({ error: 'no such checkout session' }));
    this.expireDueSessions();
    if (method === 'POST') await this.payCheckout(st, 'success');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(
      `<!doctype html><meta name="viewport" content="width=device-width"><title>Pay</title>` +
        `<h1>${((st.obj.amount_total as number) / 100).toFixed(2)} ${String(st.obj.currency).toUpperCase()}</h1>` +
        `<p>Status: ${st.obj.status} / ${st.obj.payment_status} (simulated Stripe Checkout)</p>` +
        (st.obj.status === 'open' ? `<form method="post"><button>Pay</button></form>` : ''),
    );
  }

  /**
   * Idempotency, as Stripe does it: same key + same request → the saved answer; same key +
   * different request → 400. Keys are per API key. Undefined when the request has been answered.
   */
  private idempotency(
    req: http.IncomingMessage,
    method: string,
    fingerprint: string,
    send: Send,
  ): Idempotency | undefined {
    const key = method === 'POST' ? (req.headers['idempotency-key'] as string | undefined) : undefined;
    if (key && key.length > 255) {
      send(400, errorJson('invalid_request_error', `Invalid idempotency key: must be at most 255 characters long.`));
      return undefined;
    }
    const savedKey = key ? `${req.headers.authorization ?? ''} ${key}` : undefined;
    const prior = savedKey ? this.saved.get(savedKey) : undefined;
    if (!prior) return { key, savedKey, fingerprint };
    if (prior.fingerprint !== fingerprint) {
      send(
        400,
        errorJson(
          'idempotency_error',
          `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        ),
      );
    } else send(prior.status, prior.body, { 'idempotent-replayed': 'true', 'idempotency-key': key! });
    return undefined;
  }

  /**
   * stripe-mock validates the request against Stripe's OpenAPI spec (and auth, version, content
   * type); its answer's shape is the template for ours. Undefined when stripe-mock is unreachable (answered 502).
   */
  private async validate(
    req: http.IncomingMessage,
    body: string,
    send: Send,
  ): Promise<{ status: number; body: string } | undefined> {
    try {
      return await forward(this.mock.socketPath, req, body);
    } catch (err) {
      send(502, errorJson('api_error', `stripe-mock unavailable: ${(err as Error).message}`));
      return undefined;
    }
  }

  private async answer(res: http.ServerResponse, reply: Reply, idem: Idempotency, send: Send): Promise<void> {
    const payload = JSON.stringify(reply.body, null, 2);
    if (idem.savedKey && reply.status !== 404)
      this.saved.set(idem.savedKey, { fingerprint: idem.fingerprint, status: reply.status, body: payload });
    await finishReply(res, this.timers, reply, () =>
      send(reply.status, payload, idem.key ? { 'idempotency-key': idem.key } : {}),
    );
  }

  // ---- the test's handle -------------------------------------------------------------------

  advanceTime(seconds: number): void {
    // Time passes for what exists (new objects are unaffected): shift their clocks back.
    for (const st of this.sessions.values()) {
      (st.obj.created as number) -= seconds;
      (st.obj.expires_at as number) -= seconds;
    }
    for (const st of this.intents.values()) (st.obj.created as number) -= seconds;
    this.expireDueSessions();
  }

  async presentCard(paymentIntentId: string): Promise<void> {
    const present = this.awaitingCard.get(paymentIntentId);
    if (!present) throw new Error(`no reader is waiting for a card for ${paymentIntentId}`);
    this.awaitingCard.delete(paymentIntentId);
    await present();
  }
}

function publicSession(st: SessionState): Json {
  const { payment_intent_metadata: _hidden, ...rest } = st.obj as Json & { payment_intent_metadata?: unknown };
  return rest;
}

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

/** The intent now waits for the customer (3-D Secure, or a customer who never finishes). */
function requireAction(st: IntentState): Reply {
  Object.assign(st.obj, { status: 'requires_action', next_action: { type: 'use_stripe_sdk', use_stripe_sdk: {} } });
  return { status: 200, body: st.obj };
}

/** A declined confirm's 402, from the decline recorded on the intent. */
function declineReply(st: IntentState): Reply {
  const err = st.obj.last_payment_error as Json;
  return stripeError(402, 'card_error', err.message as string, {
    code: err.code,
    decline_code: err.decline_code,
    charge: err.charge,
    payment_intent: structuredClone(st.obj),
  });
}

/** Why Stripe refuses this refund, if it does: no successful charge, nothing left, or too much asked. */
function refundRefusal(st: IntentState, piId: string, params: Params): Reply | undefined {
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
    return stripeError(400, 'invalid_request_error', `Charge ${st.obj.latest_charge} has already been refunded.`, {
      code: 'charge_already_refunded',
    });
  if (amount > remaining) {
    return stripeError(
      400,
      'invalid_request_error',
      `Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining})`,
      { code: 'amount_too_large', param: 'amount' },
    );
  }
  return undefined;
}

export async function startStripeSimulator(opts: StripeSimOptions = {}): Promise<StripeSim> {
  const sim = new StripeSimulator(opts, await startStripeMock(opts.stripeMockBin));
  let port: number;
  try {
    port = await listen(sim.server, opts.port);
  } catch (err) {
    await sim.mock.stop();
    throw err;
  }
  sim.baseUrl = `http://127.0.0.1:${port}`;
  return stripeHandle(sim, port);
}

/** What a test (or the sandbox) holds: the URL and config, scripting, and a look at the state. */
function stripeHandle(sim: StripeSimulator, port: number): StripeSim {
  const { secretKey, webhookSecret } = sim;
  return {
    url: sim.baseUrl,
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
      sim.webhookUrl = url;
    },
    script(match, s) {
      sim.scripts.set(match, s);
    },
    paymentIntents: () => [...sim.intents.values()].map((s) => structuredClone(s.obj)),
    checkoutSessions: () => [...sim.sessions.values()].map((s) => structuredClone(publicSession(s))),
    refunds: () => [...sim.refunds.values()].map((r) => structuredClone(r)),
    webhooks: () => sim.deliveries.map((d) => ({ ...d })),
    requests: () => [...sim.requestLog],
    advanceTime: (seconds) => sim.advanceTime(seconds),
    async completeCheckout(sessionId, outcome = 'success') {
      const st = sim.sessions.get(sessionId);
      if (!st) throw new Error(`no checkout session ${sessionId}`);
      await sim.payCheckout(st, outcome);
    },
    presentCard: (paymentIntentId) => sim.presentCard(paymentIntentId),
    async close() {
      sim.timers.clear();
      await closeServer(sim.server);
      await sim.mock.stop();
    },
  };
}
