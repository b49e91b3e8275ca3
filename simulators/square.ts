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
  listen,
  randomId,
  readBody,
  type GatewayScript,
  type WebhookDelivery,
} from './stripe';

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

interface Reply {
  status: number;
  body: unknown;
  before?: Promise<void>;
  hang?: number;
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

export async function startSquareSimulator(opts: SquareSimOptions = {}): Promise<SquareSim> {
  const accessToken = opts.accessToken ?? `EAAA${randomBytes(24).toString('hex')}`;
  const locationId = opts.locationId ?? randomId('L', 12).toUpperCase();
  const webhookSignatureKey = opts.webhookSignatureKey ?? randomBytes(16).toString('base64url');
  const merchantId = randomId('M', 12).toUpperCase();
  let webhookUrl = opts.webhookUrl;
  const timers = new SimTimers();
  const scripts = new ScriptBook(opts.defaultScript ?? { outcome: 'success' });
  const state = opts.state ?? memoryState();
  const checkouts = state.map<CheckoutState>('square.checkouts');
  const payments = state.map<PaymentState>('square.payments');
  const paymentsByKey = state.map<PaymentState>('square.paymentsByKey');
  const refunds = state.map<Json>('square.refunds');
  let refundScript: { pendingMs?: number; outcome?: 'COMPLETED' | 'FAILED' } | undefined;
  const saved = state.map<{ fingerprint: string; status: number; body: string }>('square.saved');
  const deliveries: WebhookDelivery[] = [];
  const requestLog: string[] = [];
  const hung = new WeakSet<GatewayScript>();
  const firstHang = (s: GatewayScript) => s.outcome === 'timeout' && !hung.has(s) && (hung.add(s), true);

  // ---- webhooks ----------------------------------------------------------------------------

  function emit(
    type: string,
    dataType: string,
    id: string,
    object: Json,
    script: GatewayScript,
    immediate = false,
  ): Promise<void> {
    const event = {
      merchant_id: merchantId,
      location_id: locationId,
      type,
      event_id: randomUUID(),
      created_at: iso(),
      data: { type: dataType, id, object: { [dataType]: structuredClone(object) } },
    };
    const body = JSON.stringify(event);
    const send = async () => {
      const url = webhookUrl;
      const signature = () => ({
        'x-square-hmacsha256-signature': createHmac('sha256', webhookSignatureKey)
          .update((url ?? '') + body, 'utf8')
          .digest('base64'),
        'square-version': '2026-09-16',
        'user-agent': 'Square Connect v2',
      });
      for (let i = 0; i < (script.duplicateWebhook ? 2 : 1); i++) {
        const record: WebhookDelivery = { eventId: event.event_id, type, body, attempts: 0, status: 0 };
        deliveries.push(record);
        await deliverWebhook(timers, url, body, signature, record);
      }
    };
    if (immediate) return send();
    return new Promise((resolve) => timers.after(script.webhookDelayMs ?? 10, () => send().then(resolve)));
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  function newPayment(p: {
    amount: { amount: number; currency: string };
    tip?: { amount: number; currency: string };
    referenceId?: string;
    idempotencyKey: string;
    script: GatewayScript;
    sourceType: string;
    terminalCheckoutId?: string;
    note?: string;
    status: 'COMPLETED' | 'FAILED';
    declineCode?: string;
  }): PaymentState {
    const id = randomId('', 29);
    const total = p.amount.amount + (p.tip?.amount ?? 0);
    const failed = p.status === 'FAILED';
    const cardErrors = failed
      ? [
          {
            category: 'PAYMENT_METHOD_ERROR',
            code: p.declineCode ?? 'CARD_DECLINED',
            detail: `Authorization error: '${p.declineCode ?? 'CARD_DECLINED'}'`,
          },
        ]
      : undefined;
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
      card_details: {
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
      },
      location_id: locationId,
      ...(p.referenceId ? { reference_id: p.referenceId } : {}),
      ...(p.terminalCheckoutId ? { terminal_checkout_id: p.terminalCheckoutId } : {}),
      ...(p.note ? { note: p.note } : {}),
      ...(failed
        ? {}
        : { receipt_number: id.slice(0, 4), receipt_url: `https://squareupsandbox.com/receipt/preview/${id}` }),
      version_token: randomId('', 43),
    };
    const st: PaymentState = { obj, script: p.script, idempotencyKey: p.idempotencyKey, refunded: 0 };
    payments.set(id, st);
    paymentsByKey.set(p.idempotencyKey, st);
    return st;
  }

  function finishCheckout(
    st: CheckoutState,
    outcome: 'success' | 'decline' | 'abandon',
    immediate = false,
  ): Promise<void> {
    const c = st.obj;
    if (outcome === 'abandon' || c.status === 'COMPLETED' || c.status === 'CANCELED') return Promise.resolve();
    if (st.script.overcharge) {
      const asked = c.amount_money as { amount: number; currency: string };
      c.amount_money = { ...asked, amount: asked.amount + st.script.overcharge };
    }
    const pay = newPayment({
      amount: c.amount_money as { amount: number; currency: string },
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
    return emit('terminal.checkout.updated', 'checkout', c.id as string, c, st.script, immediate);
  }

  // ---- endpoints ---------------------------------------------------------------------------

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

  function scriptFor(method: string, parts: string[], body: Json): GatewayScript | undefined {
    const [, a, b, c] = parts; // parts[0] === 'v2'
    if (a === 'terminals' && b === 'checkouts') {
      if (method === 'POST' && !c) {
        const ck = (body.checkout ?? {}) as Json;
        return scripts.find(moneyOf(ck.amount_money)?.amount, ck.reference_id as string | undefined);
      }
      return c ? checkouts.get(c)?.script : undefined;
    }
    if (a === 'payments') {
      if (method === 'POST' && !b) {
        const total = (moneyOf(body.amount_money)?.amount ?? 0) + (moneyOf(body.tip_money)?.amount ?? 0);
        return scripts.find(total, body.reference_id as string | undefined);
      }
      if (b === 'cancel') return paymentsByKey.get(body.idempotency_key as string)?.script;
      return b ? payments.get(b)?.script : undefined;
    }
    if (a === 'refunds' && method === 'POST') return payments.get(body.payment_id as string)?.script;
    return undefined;
  }

  function handle(method: string, parts: string[], body: Json): Reply {
    const [, a, b, c, d] = parts;
    // ---- Terminal checkouts
    if (a === 'terminals' && b === 'checkouts') {
      if (method === 'POST' && !c) {
        const ck = (body.checkout ?? {}) as Json;
        const amount = moneyOf(ck.amount_money);
        const device = (ck.device_options ?? {}) as Json;
        if (!amount || amount.amount <= 0)
          return err(400, 'INVALID_REQUEST_ERROR', 'INVALID_VALUE', 'checkout.amount_money must be a positive amount', {
            field: 'checkout.amount_money',
          });
        if (typeof device.device_id !== 'string' || !device.device_id)
          return err(400, 'INVALID_REQUEST_ERROR', 'MISSING_REQUIRED_PARAMETER', 'Field must be set', {
            field: 'checkout.device_options.device_id',
          });
        const id = randomId('', 13);
        const st: CheckoutState = {
          script: scripts.find(amount.amount, ck.reference_id as string | undefined),
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
            location_id: locationId,
            payment_type: 'CARD_PRESENT',
            payment_ids: [],
          },
        };
        checkouts.set(id, st);
        const outcome = effectiveOutcome(st.script);
        const hang = firstHang(st.script) ? (st.script.hangMs ?? 10_000) : undefined;
        if (st.script.webhookBeforeResponse) {
          const snapshot = structuredClone(st.obj);
          return { status: 200, body: { checkout: snapshot }, before: finishCheckout(st, outcome, true), hang };
        }
        timers.after(st.script.outcomeDelayMs ?? 25, () => {
          if (st.obj.status === 'PENDING') st.obj.status = 'IN_PROGRESS';
          void finishCheckout(st, outcome);
        });
        return { status: 200, body: { checkout: st.obj }, hang };
      }
      const st = checkouts.get(c ?? '');
      if (!st) return err(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', `Checkout \`${c}\` not found.`);
      if (method === 'GET' && !d) return { status: 200, body: { checkout: st.obj } };
      if (method === 'POST' && d === 'cancel') {
        const live = st.obj.status === 'PENDING' || st.obj.status === 'IN_PROGRESS';
        if (live && st.script.lateSuccessAfterCancel) void finishCheckout(st, 'success');
        if (st.obj.status === 'COMPLETED') {
          return err(
            400,
            'INVALID_REQUEST_ERROR',
            'BAD_REQUEST',
            `Terminal checkout ${c} is COMPLETED and cannot be canceled.`,
          );
        }
        if (st.obj.status !== 'CANCELED') {
          Object.assign(st.obj, { status: 'CANCELED', cancel_reason: 'SELLER_CANCELED', updated_at: iso() });
          void emit('terminal.checkout.updated', 'checkout', st.obj.id as string, st.obj, st.script);
        }
        return { status: 200, body: { checkout: st.obj } };
      }
    }
    // ---- Payments
    if (a === 'payments') {
      if (method === 'POST' && !b) {
        const amount = moneyOf(body.amount_money);
        const tip = body.tip_money === undefined ? undefined : moneyOf(body.tip_money);
        if (typeof body.idempotency_key !== 'string' || !body.idempotency_key)
          return err(400, 'INVALID_REQUEST_ERROR', 'MISSING_REQUIRED_PARAMETER', 'Field must be set', {
            field: 'idempotency_key',
          });
        if (typeof body.source_id !== 'string' || !body.source_id)
          return err(400, 'INVALID_REQUEST_ERROR', 'MISSING_REQUIRED_PARAMETER', 'Field must be set', {
            field: 'source_id',
          });
        if (!amount || amount.amount < 0)
          return err(400, 'INVALID_REQUEST_ERROR', 'INVALID_VALUE', 'amount_money is invalid', {
            field: 'amount_money',
          });
        if (body.tip_money !== undefined && !tip)
          return err(400, 'INVALID_REQUEST_ERROR', 'INVALID_VALUE', 'tip_money is invalid', { field: 'tip_money' });
        if (body.location_id !== undefined && body.location_id !== locationId)
          return err(400, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', `Location \`${body.location_id}\` not found.`);
        const script = scripts.find(amount.amount + (tip?.amount ?? 0), body.reference_id as string | undefined);
        let outcome = effectiveOutcome(script);
        if (scripts.isDefault(script) && /declined|insufficient|cvv|expired/i.test(body.source_id)) outcome = 'decline';
        const hang = firstHang(script) ? (script.hangMs ?? 10_000) : undefined;
        if (outcome === 'abandon') {
          // A source that never completes (e.g. an awaiting buyer action): keep it APPROVED.
          const st = newPayment({
            amount,
            tip,
            referenceId: body.reference_id as string | undefined,
            idempotencyKey: body.idempotency_key,
            script,
            sourceType: 'CARD',
            status: 'COMPLETED',
            note: body.note as string | undefined,
          });
          Object.assign(st.obj, {
            status: 'APPROVED',
            card_details: { ...(st.obj.card_details as Json), status: 'AUTHORIZED' },
          });
          return { status: 200, body: { payment: st.obj }, hang };
        }
        const st = newPayment({
          amount,
          tip,
          referenceId: body.reference_id as string | undefined,
          idempotencyKey: body.idempotency_key,
          script,
          sourceType: 'CARD',
          status: outcome === 'success' ? 'COMPLETED' : 'FAILED',
          note: body.note as string | undefined,
        });
        const delivered = emit(
          'payment.updated',
          'payment',
          st.obj.id as string,
          st.obj,
          script,
          script.webhookBeforeResponse,
        );
        const before = script.webhookBeforeResponse ? delivered : undefined;
        if (outcome === 'decline') {
          const e = ((st.obj.card_details as Json).errors as Json[])[0];
          return { status: 400, body: { errors: [e], payment: st.obj }, before, hang };
        }
        return { status: 200, body: { payment: st.obj }, before, hang };
      }
      if (method === 'POST' && b === 'cancel') {
        // Cancel by idempotency key: void what that key created, if anything; nothing found is a success.
        const st = paymentsByKey.get(body.idempotency_key as string);
        if (st && st.obj.status === 'APPROVED') {
          Object.assign(st.obj, {
            status: 'CANCELED',
            updated_at: iso(),
            card_details: { ...(st.obj.card_details as Json), status: 'VOIDED' },
          });
          void emit('payment.updated', 'payment', st.obj.id as string, st.obj, st.script);
        } else if (st && st.obj.status === 'COMPLETED') {
          return err(
            400,
            'INVALID_REQUEST_ERROR',
            'BAD_REQUEST',
            `Payment ${st.obj.id} is COMPLETED and cannot be canceled.`,
          );
        }
        return { status: 200, body: {} };
      }
      const st = payments.get(b ?? '');
      if (!st) return err(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', `Could not find payment with id: ${b}`);
      if (method === 'GET' && !c) return { status: 200, body: { payment: st.obj } };
      if (method === 'POST' && c === 'cancel') {
        if (st.obj.status !== 'APPROVED')
          return err(
            400,
            'INVALID_REQUEST_ERROR',
            'BAD_REQUEST',
            `Payment ${b} is ${st.obj.status} and cannot be canceled.`,
          );
        Object.assign(st.obj, { status: 'CANCELED', updated_at: iso() });
        void emit('payment.updated', 'payment', st.obj.id as string, st.obj, st.script);
        return { status: 200, body: { payment: st.obj } };
      }
    }
    // ---- Refunds
    if (a === 'refunds' && method === 'POST' && !b) {
      const amount = moneyOf(body.amount_money);
      if (typeof body.idempotency_key !== 'string' || !body.idempotency_key)
        return err(400, 'INVALID_REQUEST_ERROR', 'MISSING_REQUIRED_PARAMETER', 'Field must be set', {
          field: 'idempotency_key',
        });
      if (!amount || amount.amount <= 0)
        return err(400, 'INVALID_REQUEST_ERROR', 'INVALID_VALUE', 'amount_money is invalid', { field: 'amount_money' });
      const st = payments.get(body.payment_id as string);
      if (!st)
        return err(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', `Could not find payment with id: ${body.payment_id}`);
      if (st.obj.status !== 'COMPLETED')
        return err(
          400,
          'INVALID_REQUEST_ERROR',
          'BAD_REQUEST',
          `Payment ${body.payment_id} is ${st.obj.status}; only COMPLETED payments can be refunded.`,
        );
      const total = (st.obj.total_money as { amount: number }).amount;
      if (amount.amount > total - st.refunded) {
        return err(
          400,
          'INVALID_REQUEST_ERROR',
          'REFUND_AMOUNT_INVALID',
          `The requested refund amount exceeds the amount available to refund (${total - st.refunded}).`,
        );
      }
      st.refunded += amount.amount;
      const pending = refundScript?.pendingMs !== undefined;
      const refund: Json = {
        id: `${st.obj.id}_${randomId('', 40)}`,
        status: pending ? 'PENDING' : (refundScript?.outcome ?? 'COMPLETED'),
        location_id: locationId,
        amount_money: amount,
        payment_id: st.obj.id,
        reason: body.reason ?? null,
        created_at: iso(),
        updated_at: iso(),
      };
      refunds.set(refund.id as string, refund);
      if (pending) {
        const outcome = refundScript?.outcome ?? 'COMPLETED';
        timers.after(refundScript!.pendingMs!, () => {
          Object.assign(refund, { status: outcome, updated_at: iso() });
          if (outcome !== 'COMPLETED') st.refunded -= amount.amount;
        });
      }
      Object.assign(st.obj, {
        refunded_money: { amount: st.refunded, currency: amount.currency },
        refund_ids: [...((st.obj.refund_ids as string[]) ?? []), refund.id],
      });
      return { status: 200, body: { refund } };
    }
    if (a === 'refunds' && method === 'GET' && b) {
      const refund = refunds.get(b);
      return refund
        ? { status: 200, body: { refund } }
        : err(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', `Could not find refund with id: ${b}`);
    }
    return err(
      404,
      'INVALID_REQUEST_ERROR',
      'NOT_FOUND',
      `The simulator does not implement ${method} /${parts.join('/')}`,
    );
  }

  // ---- HTTP --------------------------------------------------------------------------------

  const server = http.createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://sim');
      const method = req.method ?? 'GET';
      requestLog.push(`${method} ${url.pathname}`);
      const send = (r: { status: number; body: unknown }) => {
        if (res.headersSent || res.destroyed) return;
        const payload = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
        res.writeHead(r.status, { 'content-type': 'application/json', 'square-version': '2026-09-16' });
        res.end(payload);
      };
      if (req.headers.authorization !== `Bearer ${accessToken}`) {
        return send(err(401, 'AUTHENTICATION_ERROR', 'UNAUTHORIZED', 'This request could not be authorized.'));
      }
      let body: Json = {};
      if (method === 'POST') {
        try {
          body = raw ? (JSON.parse(raw) as Json) : {};
        } catch {
          return send(err(400, 'INVALID_REQUEST_ERROR', 'INVALID_CONTENT_TYPE', 'Request body is not valid JSON.'));
        }
      }
      const parts = url.pathname.split('/').filter(Boolean);
      if (parts[0] !== 'v2')
        return send(err(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', `Unknown path ${url.pathname}`));
      const script = scriptFor(method, parts, body);
      if (script && scripts.take5xx(script)) {
        return send(err(500, 'API_ERROR', 'INTERNAL_SERVER_ERROR', 'An internal error has occurred (simulated).'));
      }
      const tooLong = idempotencyKeyTooLong(parts, body);
      if (tooLong) return send(tooLong);
      // Idempotency: the create/refund endpoints carry idempotency_key in the body.
      const key =
        method === 'POST' && typeof body.idempotency_key === 'string' && parts[2] !== 'cancel'
          ? `${url.pathname} ${body.idempotency_key}`
          : undefined;
      if (key && saved.has(key)) {
        const prior = saved.get(key)!;
        if (prior.fingerprint !== raw)
          return send(
            err(
              400,
              'INVALID_REQUEST_ERROR',
              'IDEMPOTENCY_KEY_REUSED',
              'The idempotency key can only be retried with the same request data.',
            ),
          );
        return send({ status: prior.status, body: prior.body });
      }
      const reply = handle(method, parts, body);
      const payload = JSON.stringify(reply.body);
      if (key && reply.status < 500 && (reply.status < 400 || (reply.body as { payment?: unknown }).payment)) {
        saved.set(key, { fingerprint: raw, status: reply.status, body: payload });
      }
      if (reply.before) await reply.before;
      if (reply.hang !== undefined) {
        timers.after(reply.hang, () => {
          res.destroy();
        });
        return;
      }
      send({ status: reply.status, body: payload });
    })().catch((e: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            errors: [
              {
                category: 'API_ERROR',
                code: 'INTERNAL_SERVER_ERROR',
                detail: `simulator error: ${(e as Error).message}`,
              },
            ],
          }),
        );
      }
    });
  });

  const port = await listen(server, opts.port);
  const baseUrl = `http://127.0.0.1:${port}`;

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
      webhookUrl: webhookUrl ?? `${baseUrl}/webhooks/square`,
      sandbox: true,
      ...overrides,
    }),
    setWebhookUrl(u) {
      webhookUrl = u;
    },
    script(match, s) {
      scripts.set(match, s);
    },
    checkouts: () => [...checkouts.values()].map((c) => structuredClone(c.obj)),
    payments: () => [...payments.values()].map((p) => structuredClone(p.obj)),
    refunds: () => [...refunds.values()].map((r) => structuredClone(r)),
    scriptRefunds(sc) {
      refundScript = sc;
    },
    webhooks: () => deliveries.map((d) => ({ ...d })),
    requests: () => [...requestLog],
    async close() {
      timers.clear();
      await closeServer(server);
    },
  };
}
