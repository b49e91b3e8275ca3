import * as http from 'node:http';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { SquareConfig } from '../core/gateway';
import { memoryState, type SimState } from './state';
import {
  ScriptBook,
  SimTimers,
  closeServer,
  deliverWebhook,
  effectiveOutcome,
  finishReply,
  HangOnce,
  listen,
  randomId,
  readBody,
  type GatewayScript,
  type Reply,
  type WebhookDelivery,
} from './http';

/*
 * Square simulator: the subset of Square's v2 API that Tillflow's adapter uses (Terminal
 * checkouts, Payments, cancel by idempotency key, Refunds) with bearer auth, Square's error
 * shape, idempotency keys (same key + same body → same answer; different body → 400
 * IDEMPOTENCY_KEY_REUSED), scripted outcomes and signed webhooks
 * (x-square-hmacsha256-signature = base64 HMAC-SHA256(key, notification URL + body)).
 * Unscripted card nonces follow Square's sandbox values (cnon:card-nonce-declined declines).
 */

export interface SquareSimOptions {
  accessToken?: string;
  locationId?: string;
  webhookSignatureKey?: string;
  webhookUrl?: string;
  /** What unscripted payments do (default: success after 25 ms). */
  defaultScript?: GatewayScript;
  /** Fixed port on 127.0.0.1 (default: any free one). */
  port?: number;
  /** Where checkouts, payments, refunds and idempotency keys are kept (default: memory). */
  state?: SimState;
}

type Json = Record<string, unknown>;

export interface SquareSim {
  readonly url: string;
  readonly accessToken: string;
  readonly locationId: string;
  readonly webhookSignatureKey: string;
  /** A SquareConfig pointing at this simulator; webhookUrl defaults to the one set with setWebhookUrl. */
  config(overrides?: Partial<SquareConfig>): SquareConfig;
  /** Where webhooks go; it is also the notification URL that is signed. */
  setWebhookUrl(url: string | undefined): void;
  /** Scripts every payment of that total (number, minor units) or with that reference_id (our payment id). */
  script(match: number | string, s: GatewayScript): void;
  checkouts(): Json[];
  payments(): Json[];
  refunds(): Json[];
  /** How the next refunds go: PENDING for `pendingMs`, then `outcome` (default: COMPLETED at once). */
  scriptRefunds(s: { pendingMs?: number; outcome?: 'COMPLETED' | 'FAILED' } | undefined): void;
  webhooks(): WebhookDelivery[];
  requests(): string[];
  close(): Promise<void>;
}

interface CheckoutState {
  obj: Json;
  script: GatewayScript;
}

interface PaymentState {
  obj: Json;
  script: GatewayScript;
  idempotencyKey: string;
  refunded: number;
}

function err(status: number, category: string, code: string, detail: string, extra: Json = {}): Reply {
  return { status, body: { errors: [{ category, code, detail }], ...extra } };
}

const iso = () => new Date().toISOString();

function moneyOf(v: unknown): { amount: number; currency: string } | undefined {
  const m = v as { amount?: unknown; currency?: unknown } | undefined;
  if (!m || typeof m.amount !== 'number' || !Number.isInteger(m.amount) || typeof m.currency !== 'string')
    return undefined;
  return { amount: m.amount, currency: m.currency };
}

type Money = { amount: number; currency: string };
type RefundScript = { pendingMs?: number; outcome?: 'COMPLETED' | 'FAILED' };

interface NewPayment {
  amount: Money;
  tip?: Money;
  referenceId?: string;
  idempotencyKey: string;
  script: GatewayScript;
  sourceType: string;
  terminalCheckoutId?: string;
  note?: string;
  status: 'COMPLETED' | 'FAILED';
  declineCode?: string;
}

/** A request Square refuses: a field that must be set is missing. */
function missing(field: string): Reply {
  return err(400, 'INVALID_REQUEST_ERROR', 'MISSING_REQUIRED_PARAMETER', 'Field must be set', { field });
}

function invalid(field: string, detail: string): Reply {
  return err(400, 'INVALID_REQUEST_ERROR', 'INVALID_VALUE', detail, { field });
}

function badRequest(detail: string): Reply {
  return err(400, 'INVALID_REQUEST_ERROR', 'BAD_REQUEST', detail);
}

function notImplemented(method: string, parts: string[]): Reply {
  return err(
    404,
    'INVALID_REQUEST_ERROR',
    'NOT_FOUND',
    `The simulator does not implement ${method} /${parts.join('/')}`,
  );
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

/**
 * Square's limits on idempotency_key: 64 characters for Terminal checkouts and refunds, 45 for
 * Payments (create, cancel by key) and Refunds; longer keys are refused with VALUE_TOO_LONG.
 */
function idempotencyKeyTooLong(parts: string[], body: Json): Reply | undefined {
  const key = body.idempotency_key;
  if (typeof key !== 'string') return undefined;
  const max = parts[1] === 'terminals' ? 64 : 45;
  if (key.length <= max) return undefined;
  return {
    status: 400,
    body: {
      errors: [
        {
          category: 'INVALID_REQUEST_ERROR',
          code: 'VALUE_TOO_LONG',
          detail: `Field must not be greater than ${max} length`,
          field: 'idempotency_key',
        },
      ],
    },
  };
}

/** The card a payment was made with: Square's card_details, declined ones with their errors. */
function cardDetails(p: NewPayment, failed: boolean): Json {
  const code = p.declineCode ?? 'CARD_DECLINED';
  const cardErrors = failed
    ? [{ category: 'PAYMENT_METHOD_ERROR', code, detail: `Authorization error: '${code}'` }]
    : undefined;
  return {
    status: failed ? 'FAILED' : 'CAPTURED',
    card: {
      card_brand: 'VISA',
      last_4: failed ? '0002' : '1111',
      exp_month: 12,
      exp_year: 2030,
      card_type: 'CREDIT',
    },
    entry_method: p.sourceType === 'TERMINAL' ? 'CONTACTLESS' : 'KEYED',
    ...(cardErrors ? { errors: cardErrors } : {}),
  };
}

/** The stateful simulator: its state, the lifecycles it drives, and one method per endpoint. */
class SquareSimulator {
  readonly accessToken: string;
  readonly locationId: string;
  readonly webhookSignatureKey: string;
  private readonly merchantId = randomId('M', 12).toUpperCase();
  webhookUrl: string | undefined;
  readonly timers = new SimTimers();
  readonly scripts: ScriptBook;
  readonly checkouts: Map<string, CheckoutState>;
  readonly payments: Map<string, PaymentState>;
  private readonly paymentsByKey: Map<string, PaymentState>;
  readonly refunds: Map<string, Json>;
  refundScript: RefundScript | undefined;
  private readonly saved: Map<string, { fingerprint: string; status: number; body: string }>;
  readonly deliveries: WebhookDelivery[] = [];
  readonly requestLog: string[] = [];
  private readonly hangs = new HangOnce();
  readonly server: http.Server;

  constructor(opts: SquareSimOptions) {
    this.accessToken = opts.accessToken ?? `EAAA${randomBytes(24).toString('hex')}`;
    this.locationId = opts.locationId ?? randomId('L', 12).toUpperCase();
    this.webhookSignatureKey = opts.webhookSignatureKey ?? randomBytes(16).toString('base64url');
    this.webhookUrl = opts.webhookUrl;
    this.scripts = new ScriptBook(opts.defaultScript ?? { outcome: 'success' });
    const state = opts.state ?? memoryState();
    this.checkouts = state.map<CheckoutState>('square.checkouts');
    this.payments = state.map<PaymentState>('square.payments');
    this.paymentsByKey = state.map<PaymentState>('square.paymentsByKey');
    this.refunds = state.map<Json>('square.refunds');
    this.saved = state.map('square.saved');
    this.server = http.createServer((req, res) => this.onRequest(req, res));
  }

  // ---- webhooks ----------------------------------------------------------------------------

  private emit(
    type: string,
    dataType: string,
    id: string,
    object: Json,
    script: GatewayScript,
    immediate = false,
  ): Promise<void> {
    const event = {
      merchant_id: this.merchantId,
      location_id: this.locationId,
      type,
      event_id: randomUUID(),
      created_at: iso(),
      data: { type: dataType, id, object: { [dataType]: structuredClone(object) } },
    };
    const body = JSON.stringify(event);
    const send = async () => {
      const url = this.webhookUrl;
      const signature = () => ({
        'x-square-hmacsha256-signature': createHmac('sha256', this.webhookSignatureKey)
          .update((url ?? '') + body, 'utf8')
          .digest('base64'),
        'square-version': '2026-09-16',
        'user-agent': 'Square Connect v2',
      });
      for (let i = 0; i < (script.duplicateWebhook ? 2 : 1); i++) {
        const record: WebhookDelivery = { eventId: event.event_id, type, body, attempts: 0, status: 0 };
        this.deliveries.push(record);
        await deliverWebhook(this.timers, url, body, signature, record);
      }
    };
    if (immediate) return send();
    return new Promise((resolve) => this.timers.after(script.webhookDelayMs ?? 10, () => send().then(resolve)));
  }

  private emitPayment(st: PaymentState, immediate?: boolean): Promise<void> {
    return this.emit('payment.updated', 'payment', st.obj.id as string, st.obj, st.script, immediate);
  }

  private emitCheckout(st: CheckoutState, immediate?: boolean): Promise<void> {
    return this.emit('terminal.checkout.updated', 'checkout', st.obj.id as string, st.obj, st.script, immediate);
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  private newPayment(p: NewPayment): PaymentState {
    const id = randomId('', 29);
    const total = p.amount.amount + (p.tip?.amount ?? 0);
    const failed = p.status === 'FAILED';
    const obj: Json = {
      id,
      created_at: iso(),
      updated_at: iso(),
      amount_money: p.amount,
      ...(p.tip ? { tip_money: p.tip } : {}),
      total_money: { amount: total, currency: p.amount.currency },
      approved_money: failed
        ? { amount: 0, currency: p.amount.currency }
        : { amount: total, currency: p.amount.currency },
      status: p.status,
      delay_duration: 'PT168H',
      source_type: 'CARD',
      card_details: cardDetails(p, failed),
      location_id: this.locationId,
      ...(p.referenceId ? { reference_id: p.referenceId } : {}),
      ...(p.terminalCheckoutId ? { terminal_checkout_id: p.terminalCheckoutId } : {}),
      ...(p.note ? { note: p.note } : {}),
      ...(failed
        ? {}
        : { receipt_number: id.slice(0, 4), receipt_url: `https://squareupsandbox.com/receipt/preview/${id}` }),
      version_token: randomId('', 43),
    };
    const st: PaymentState = { obj, script: p.script, idempotencyKey: p.idempotencyKey, refunded: 0 };
    this.payments.set(id, st);
    this.paymentsByKey.set(p.idempotencyKey, st);
    return st;
  }

  private finishCheckout(
    st: CheckoutState,
    outcome: 'success' | 'decline' | 'abandon',
    immediate = false,
  ): Promise<void> {
    const c = st.obj;
    if (outcome === 'abandon' || c.status === 'COMPLETED' || c.status === 'CANCELED') return Promise.resolve();
    if (st.script.overcharge) {
      const asked = c.amount_money as Money;
      c.amount_money = { ...asked, amount: asked.amount + st.script.overcharge };
    }
    const pay = this.newPayment({
      amount: c.amount_money as Money,
      referenceId: c.reference_id as string | undefined,
      idempotencyKey: `terminal-${c.id}-${(c.payment_ids as string[]).length}`,
      script: st.script,
      sourceType: 'TERMINAL',
      terminalCheckoutId: c.id as string,
      status: outcome === 'success' ? 'COMPLETED' : 'FAILED',
    });
    (c.payment_ids as string[]).push(pay.obj.id as string);
    // A declined card on a Terminal: the buyer may try again until the deadline; the simulator
    // compresses that to "the deadline passed" (CANCELED, TIMED_OUT).
    Object.assign(
      c,
      outcome === 'success' ? { status: 'COMPLETED' } : { status: 'CANCELED', cancel_reason: 'TIMED_OUT' },
      { updated_at: iso() },
    );
    return this.emitCheckout(st, immediate);
  }

  // ---- endpoints ---------------------------------------------------------------------------

  private scriptFor(method: string, parts: string[], body: Json): GatewayScript | undefined {
    const [, a, b, c] = parts; // parts[0] === 'v2'
    if (a === 'terminals' && b === 'checkouts') {
      if (method === 'POST' && !c) {
        const ck = (body.checkout ?? {}) as Json;
        return this.scripts.find(moneyOf(ck.amount_money)?.amount, ck.reference_id as string | undefined);
      }
      return c ? this.checkouts.get(c)?.script : undefined;
    }
    if (a === 'payments') {
      if (method === 'POST' && !b) {
        const total = (moneyOf(body.amount_money)?.amount ?? 0) + (moneyOf(body.tip_money)?.amount ?? 0);
        return this.scripts.find(total, body.reference_id as string | undefined);
      }
      if (b === 'cancel') return this.paymentsByKey.get(body.idempotency_key as string)?.script;
      return b ? this.payments.get(b)?.script : undefined;
    }
    if (a === 'refunds' && method === 'POST') return this.payments.get(body.payment_id as string)?.script;
    return undefined;
  }

  /** Route table: the first resource the path names; anything else is not implemented. */
  private handle(method: string, parts: string[], body: Json): Reply {
    const [, a, b] = parts;
    const reply =
      a === 'terminals' && b === 'checkouts'
        ? this.checkoutRoute(method, parts, body)
        : a === 'payments'
          ? this.paymentRoute(method, parts, body)
          : a === 'refunds'
            ? this.refundRoute(method, parts, body)
            : undefined;
    return reply ?? notImplemented(method, parts);
  }

  // ---- Terminal checkouts

  private checkoutRoute(method: string, parts: string[], body: Json): Reply | undefined {
    const [, , , id, action] = parts;
    if (method === 'POST' && !id) return this.createCheckout(body);
    const st = this.checkouts.get(id ?? '');
    if (!st) return err(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', `Checkout \`${id}\` not found.`);
    if (method === 'GET' && !action) return { status: 200, body: { checkout: st.obj } };
    if (method === 'POST' && action === 'cancel') return this.cancelCheckout(st, id);
    return undefined;
  }

  private createCheckout(body: Json): Reply {
    const ck = (body.checkout ?? {}) as Json;
    const amount = moneyOf(ck.amount_money);
    const device = (ck.device_options ?? {}) as Json;
    if (!amount || amount.amount <= 0)
      return invalid('checkout.amount_money', 'checkout.amount_money must be a positive amount');
    if (!nonEmptyString(device.device_id)) return missing('checkout.device_options.device_id');
    const st = this.newCheckout(ck, amount, device);
    const outcome = effectiveOutcome(st.script);
    const hang = this.hangs.hangFor(st.script);
    if (st.script.webhookBeforeResponse) {
      const snapshot = structuredClone(st.obj);
      return { status: 200, body: { checkout: snapshot }, before: this.finishCheckout(st, outcome, true), hang };
    }
    this.timers.after(st.script.outcomeDelayMs ?? 25, () => {
      if (st.obj.status === 'PENDING') st.obj.status = 'IN_PROGRESS';
      void this.finishCheckout(st, outcome);
    });
    return { status: 200, body: { checkout: st.obj }, hang };
  }

  private newCheckout(ck: Json, amount: Money, device: Json): CheckoutState {
    const id = randomId('', 13);
    const st: CheckoutState = {
      script: this.scripts.find(amount.amount, ck.reference_id as string | undefined),
      obj: {
        id,
        amount_money: amount,
        ...(ck.reference_id ? { reference_id: ck.reference_id } : {}),
        ...(ck.note ? { note: ck.note } : {}),
        device_options: { skip_receipt_screen: false, collect_signature: false, ...device },
        deadline_duration: (ck.deadline_duration as string | undefined) ?? 'PT5M',
        status: 'PENDING',
        created_at: iso(),
        updated_at: iso(),
        app_id: 'sq0idp-tillflow-sim',
        location_id: this.locationId,
        payment_type: 'CARD_PRESENT',
        payment_ids: [],
      },
    };
    this.checkouts.set(id, st);
    return st;
  }

  private cancelCheckout(st: CheckoutState, id: string): Reply {
    const live = st.obj.status === 'PENDING' || st.obj.status === 'IN_PROGRESS';
    if (live && st.script.lateSuccessAfterCancel) void this.finishCheckout(st, 'success');
    if (st.obj.status === 'COMPLETED')
      return badRequest(`Terminal checkout ${id} is COMPLETED and cannot be canceled.`);
    if (st.obj.status !== 'CANCELED') {
      Object.assign(st.obj, { status: 'CANCELED', cancel_reason: 'SELLER_CANCELED', updated_at: iso() });
      void this.emitCheckout(st);
    }
    return { status: 200, body: { checkout: st.obj } };
  }

  // ---- Payments

  private paymentRoute(method: string, parts: string[], body: Json): Reply | undefined {
    const [, , id, action] = parts;
    if (method === 'POST' && !id) return this.createPayment(body);
    if (method === 'POST' && id === 'cancel') return this.cancelByKey(body);
    const st = this.payments.get(id ?? '');
    if (!st) return err(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', `Could not find payment with id: ${id}`);
    if (method === 'GET' && !action) return { status: 200, body: { payment: st.obj } };
    if (method === 'POST' && action === 'cancel') return this.cancelPayment(st, id);
    return undefined;
  }

  /** Why Square refuses this payment request, if it does (checked in Square's order). */
  private paymentRefusal(body: Json, amount: Money | undefined, tip: Money | undefined): Reply | undefined {
    if (!nonEmptyString(body.idempotency_key)) return missing('idempotency_key');
    if (!nonEmptyString(body.source_id)) return missing('source_id');
    if (!amount || amount.amount < 0) return invalid('amount_money', 'amount_money is invalid');
    if (body.tip_money !== undefined && !tip) return invalid('tip_money', 'tip_money is invalid');
    if (body.location_id !== undefined && body.location_id !== this.locationId)
      return err(400, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', `Location \`${body.location_id}\` not found.`);
    return undefined;
  }

  private createPayment(body: Json): Reply {
    const amount = moneyOf(body.amount_money);
    const tip = body.tip_money === undefined ? undefined : moneyOf(body.tip_money);
    const refusal = this.paymentRefusal(body, amount, tip);
    if (refusal || !amount) return refusal!;
    const sourceId = body.source_id as string;
    const script = this.scripts.find(amount.amount + (tip?.amount ?? 0), body.reference_id as string | undefined);
    let outcome = effectiveOutcome(script);
    if (this.scripts.isDefault(script) && /declined|insufficient|cvv|expired/i.test(sourceId)) outcome = 'decline';
    const hang = this.hangs.hangFor(script);
    const st = this.newPayment({
      amount,
      tip,
      referenceId: body.reference_id as string | undefined,
      idempotencyKey: body.idempotency_key as string,
      script,
      sourceType: 'CARD',
      status: outcome === 'decline' ? 'FAILED' : 'COMPLETED',
      note: body.note as string | undefined,
    });
    if (outcome === 'abandon') {
      // A source that never completes (e.g. an awaiting buyer action): keep it APPROVED.
      Object.assign(st.obj, {
        status: 'APPROVED',
        card_details: { ...(st.obj.card_details as Json), status: 'AUTHORIZED' },
      });
      return { status: 200, body: { payment: st.obj }, hang };
    }
    const delivered = this.emitPayment(st, script.webhookBeforeResponse);
    const before = script.webhookBeforeResponse ? delivered : undefined;
    if (outcome === 'decline') {
      const e = ((st.obj.card_details as Json).errors as Json[])[0];
      return { status: 400, body: { errors: [e], payment: st.obj }, before, hang };
    }
    return { status: 200, body: { payment: st.obj }, before, hang };
  }

  /** Cancel by idempotency key: void what that key created, if anything; nothing found is a success. */
  private cancelByKey(body: Json): Reply {
    const st = this.paymentsByKey.get(body.idempotency_key as string);
    if (st && st.obj.status === 'APPROVED') {
      Object.assign(st.obj, {
        status: 'CANCELED',
        updated_at: iso(),
        card_details: { ...(st.obj.card_details as Json), status: 'VOIDED' },
      });
      void this.emitPayment(st);
    } else if (st && st.obj.status === 'COMPLETED') {
      return badRequest(`Payment ${st.obj.id} is COMPLETED and cannot be canceled.`);
    }
    return { status: 200, body: {} };
  }

  private cancelPayment(st: PaymentState, id: string): Reply {
    if (st.obj.status !== 'APPROVED') return badRequest(`Payment ${id} is ${st.obj.status} and cannot be canceled.`);
    Object.assign(st.obj, { status: 'CANCELED', updated_at: iso() });
    void this.emitPayment(st);
    return { status: 200, body: { payment: st.obj } };
  }

  // ---- Refunds

  private refundRoute(method: string, parts: string[], body: Json): Reply | undefined {
    const id = parts[2];
    if (method === 'POST' && !id) return this.createRefund(body);
    if (method === 'GET' && id) {
      const refund = this.refunds.get(id);
      return refund
        ? { status: 200, body: { refund } }
        : err(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', `Could not find refund with id: ${id}`);
    }
    return undefined;
  }

  /** Why Square refuses this refund, if it does (checked in Square's order). */
  private refundRefusal(body: Json, amount: Money | undefined, st: PaymentState | undefined): Reply | undefined {
    if (!nonEmptyString(body.idempotency_key)) return missing('idempotency_key');
    if (!amount || amount.amount <= 0) return invalid('amount_money', 'amount_money is invalid');
    if (!st)
      return err(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', `Could not find payment with id: ${body.payment_id}`);
    if (st.obj.status !== 'COMPLETED')
      return badRequest(`Payment ${body.payment_id} is ${st.obj.status}; only COMPLETED payments can be refunded.`);
    const available = (st.obj.total_money as { amount: number }).amount - st.refunded;
    if (amount.amount > available) {
      return err(
        400,
        'INVALID_REQUEST_ERROR',
        'REFUND_AMOUNT_INVALID',
        `The requested refund amount exceeds the amount available to refund (${available}).`,
      );
    }
    return undefined;
  }

  private createRefund(body: Json): Reply {
    const amount = moneyOf(body.amount_money);
    const st = this.payments.get(body.payment_id as string);
    const refusal = this.refundRefusal(body, amount, st);
    if (refusal || !amount || !st) return refusal!;
    st.refunded += amount.amount;
    const pending = this.refundScript?.pendingMs !== undefined;
    const refund: Json = {
      id: `${st.obj.id}_${randomId('', 40)}`,
      status: pending ? 'PENDING' : (this.refundScript?.outcome ?? 'COMPLETED'),
      location_id: this.locationId,
      amount_money: amount,
      payment_id: st.obj.id,
      reason: body.reason ?? null,
      created_at: iso(),
      updated_at: iso(),
    };
    this.refunds.set(refund.id as string, refund);
    if (pending) this.settleRefundLater(refund, st, amount.amount);
    Object.assign(st.obj, {
      refunded_money: { amount: st.refunded, currency: amount.currency },
      refund_ids: [...((st.obj.refund_ids as string[]) ?? []), refund.id],
    });
    return { status: 200, body: { refund } };
  }

  /** A scripted PENDING refund reaches its outcome after pendingMs; a failed one gives the amount back. */
  private settleRefundLater(refund: Json, st: PaymentState, amount: number): void {
    const outcome = this.refundScript?.outcome ?? 'COMPLETED';
    this.timers.after(this.refundScript!.pendingMs!, () => {
      Object.assign(refund, { status: outcome, updated_at: iso() });
      if (outcome !== 'COMPLETED') st.refunded -= amount;
    });
  }

  // ---- HTTP --------------------------------------------------------------------------------

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    void this.serve(req, res).catch((e: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'application/json' });
        const detail = `simulator error: ${(e as Error).message}`;
        res.end(JSON.stringify({ errors: [{ category: 'API_ERROR', code: 'INTERNAL_SERVER_ERROR', detail }] }));
      }
    });
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = req.method ?? 'GET';
    this.requestLog.push(`${method} ${url.pathname}`);
    const send = (r: { status: number; body: unknown }) => sendSquare(res, r);
    if (req.headers.authorization !== `Bearer ${this.accessToken}`)
      return send(err(401, 'AUTHENTICATION_ERROR', 'UNAUTHORIZED', 'This request could not be authorized.'));
    const body = parseBody(method, raw);
    if (!body)
      return send(err(400, 'INVALID_REQUEST_ERROR', 'INVALID_CONTENT_TYPE', 'Request body is not valid JSON.'));
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] !== 'v2') return send(err(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', `Unknown path ${url.pathname}`));
    const script = this.scriptFor(method, parts, body);
    if (script && this.scripts.take5xx(script))
      return send(err(500, 'API_ERROR', 'INTERNAL_SERVER_ERROR', 'An internal error has occurred (simulated).'));
    const tooLong = idempotencyKeyTooLong(parts, body);
    if (tooLong) return send(tooLong);
    // Idempotency: the create/refund endpoints carry idempotency_key in the body.
    const key =
      method === 'POST' && typeof body.idempotency_key === 'string' && parts[2] !== 'cancel'
        ? `${url.pathname} ${body.idempotency_key}`
        : undefined;
    const prior = key ? this.saved.get(key) : undefined;
    if (prior) return send(prior.fingerprint === raw ? { status: prior.status, body: prior.body } : keyReused());
    const reply = this.handle(method, parts, body);
    const payload = JSON.stringify(reply.body);
    if (key && reply.status < 500 && (reply.status < 400 || (reply.body as { payment?: unknown }).payment))
      this.saved.set(key, { fingerprint: raw, status: reply.status, body: payload });
    await finishReply(res, this.timers, reply, () => send({ status: reply.status, body: payload }));
  }
}

function keyReused(): Reply {
  return err(
    400,
    'INVALID_REQUEST_ERROR',
    'IDEMPOTENCY_KEY_REUSED',
    'The idempotency key can only be retried with the same request data.',
  );
}

/** A POST's JSON body ({} when empty, and for other methods); undefined when it is not JSON. */
function parseBody(method: string, raw: string): Json | undefined {
  if (method !== 'POST' || !raw) return {};
  try {
    return JSON.parse(raw) as Json;
  } catch {
    return undefined;
  }
}

function sendSquare(res: http.ServerResponse, r: { status: number; body: unknown }): void {
  if (res.headersSent || res.destroyed) return;
  const payload = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  res.writeHead(r.status, { 'content-type': 'application/json', 'square-version': '2026-09-16' });
  res.end(payload);
}

export async function startSquareSimulator(opts: SquareSimOptions = {}): Promise<SquareSim> {
  const sim = new SquareSimulator(opts);
  const port = await listen(sim.server, opts.port);
  return squareHandle(sim, `http://127.0.0.1:${port}`);
}

/** What a test (or the sandbox) holds: the URL and config, scripting, and a look at the state. */
function squareHandle(sim: SquareSimulator, baseUrl: string): SquareSim {
  const { accessToken, locationId, webhookSignatureKey } = sim;
  return {
    url: baseUrl,
    accessToken,
    locationId,
    webhookSignatureKey,
    config: (overrides = {}) => ({
      baseUrl,
      accessToken,
      locationId,
      webhookSignatureKey,
      webhookUrl: sim.webhookUrl ?? `${baseUrl}/webhooks/square`,
      sandbox: true,
      ...overrides,
    }),
    setWebhookUrl(u) {
      sim.webhookUrl = u;
    },
    script(match, s) {
      sim.scripts.set(match, s);
    },
    checkouts: () => [...sim.checkouts.values()].map((c) => structuredClone(c.obj)),
    payments: () => [...sim.payments.values()].map((p) => structuredClone(p.obj)),
    refunds: () => [...sim.refunds.values()].map((r) => structuredClone(r)),
    scriptRefunds(sc) {
      sim.refundScript = sc;
    },
    webhooks: () => sim.deliveries.map((d) => ({ ...d })),
    requests: () => [...sim.requestLog],
    async close() {
      sim.timers.clear();
      await closeServer(sim.server);
    },
  };
}
