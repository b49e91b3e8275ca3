/**
 * A local Airtel Money (Airtel Africa Open API) simulator: the Collection subset Tillflow's
 * adapter uses, over real HTTP on 127.0.0.1.
 *
 *   POST /auth/oauth2/token                 {client_id, client_secret, grant_type: client_credentials}
 *   POST /merchant/v1/payments/             USSD push (de-duplicated on transaction.id)
 *   GET  /standard/v1/payments/{id}         transaction enquiry (TS / TF / TIP)
 *   POST /standard/v1/payments/refund       refund by airtel_money_id (idempotent here), with our transaction.id
 *
 * A refund may be scripted to stay in progress (sim.scriptRefunds): it answers TIP, and the
 * transaction enquiry of the refund's transaction.id answers TIP `pendingQueries` times, then TS.
 *
 * It checks the bearer token, X-Country/X-Currency, required fields and that msisdn carries no
 * country code. As with Airtel, callbacks go to the one callback URL registered for the app
 * (`callbackUrl` option / `sim.callbackUrl`), not to a URL in the request; with none registered,
 * no callback is sent. Neither the enquiry nor the callback carries the amount (as with Airtel).
 *
 * Each phone (the msisdn as sent, or with the country code) can be scripted with sim.script; an
 * unscripted phone pays after ~50 ms.
 */
import {
  randomCode,
  scheduleCallback,
  startJsonServer,
  type CallbackDelivery,
  type JsonServer,
  type LoggedRequest,
  type SimResponse,
} from './http';
import { memoryState, type SimState } from './state';

export interface AirtelSimOptions {
  clientId?: string;
  clientSecret?: string;
  country?: string;
  currency?: string;
  /** The app's registered callback URL (Airtel's portal setting). */
  callbackUrl?: string;
  /** Access token lifetime (Airtel: 180 s). */
  tokenTtlSeconds?: number;
  host?: string;
  port?: number;
  /** Where payments are kept (default: memory). */
  state?: SimState;
}

export interface AirtelScript {
  /**
   * success: paid (TS); decline: TF with resultCode (default DP00800001007, insufficient funds);
   * timeout: no callback (unless lateCallbackMs); enquiries say TIP `pendingQueries` times
   * (default 2), then the final result (paid unless resultCode is given).
   */
  outcome: 'success' | 'decline' | 'timeout';
  /** Airtel response code of the failure, e.g. DP00800001002 (incorrect PIN). */
  resultCode?: string;
  /** The transaction message (callback and enquiry); defaults per result code. */
  message?: string;
  callbackDelayMs?: number;
  lateCallbackMs?: number;
  duplicateCallback?: boolean;
  callbackBeforeResponse?: boolean;
  /** Enquiries answer TIP this many times even once a result exists. */
  pendingQueries?: number;
  /** The next K payment requests for this phone fail with HTTP 500. */
  failInitiate5xx?: number;
}

export interface AirtelPayment {
  id: string;
  msisdn: string;
  amount: number;
  reference: string;
  /** TIP until the customer's answer exists, then TS or TF. */
  status: 'TIP' | 'TS' | 'TF';
  responseCode: string;
  message: string;
  airtelMoneyId?: string;
  script: AirtelScript;
  queriesPending: number;
  /** Payment requests that named this transaction id (1 = no duplicates). */
  requests: number;
  refundedAs?: string;
}

export interface AirtelSim {
  url: string;
  clientId: string;
  clientSecret: string;
  country: string;
  currency: string;
  callbackUrl: string | undefined;
  requests: LoggedRequest[];
  callbacks: CallbackDelivery[];
  payments: Map<string, AirtelPayment>;
  /** Refunds by our refund transaction.id (or the payment's id when none was sent). */
  refunds: Map<string, AirtelRefund>;
  /** Script every refund from now on (undefined: refunds succeed at once). */
  scriptRefunds(script: { pendingQueries: number } | undefined): void;
  script(phone: string, script: AirtelScript): void;
  revokeTokens(): void;
  close(): Promise<void>;
}

export interface AirtelRefund {
  id: string;
  paymentId: string;
  airtelMoneyId: string;
  status: 'TIP' | 'TS';
  queriesPending: number;
  /** Refund requests that named this payment (1 = no duplicates). */
  requests: number;
}

export const AIRTEL_SIM_DEFAULTS = {
  clientId: 'tillflow-sandbox-client',
  clientSecret: 'tillflow-sandbox-secret',
  country: 'KE',
  currency: 'KES',
} as const;

export const AIRTEL_MESSAGES: Record<string, string> = {
  DP00800001001: 'Transaction is successful.',
  DP00800001002: 'Incorrect PIN entered.',
  DP00800001003: 'Exceeds withdrawal amount limit(s) / Withdrawal amount limit exceeded.',
  DP00800001004: 'Invalid amount.',
  DP00800001005: "User didn't enter the pin.",
  DP00800001006: 'Transaction in pending state. Please check after sometime.',
  DP00800001007: 'Not enough balance.',
  DP00800001008: 'Refused.',
  DP00800001010: 'Transaction not permitted to Payee.',
  DP00800001024: 'Transaction timed out.',
  DP00800001025: 'Transaction not found.',
  DP00800001029: 'Transaction expired.',
};

const DIAL: Record<string, string> = {
  KE: '254',
  UG: '256',
  TZ: '255',
  RW: '250',
  ZM: '260',
  MW: '265',
  NG: '234',
  CD: '243',
};

const envelope = (
  httpStatus: number,
  code: string,
  message: string,
  extra: { response_code?: string; result_code?: string; data?: unknown } = {},
): SimResponse => ({
  status: httpStatus,
  body: {
    ...(extra.data !== undefined ? { data: extra.data } : {}),
    status: {
      code,
      message,
      result_code: extra.result_code ?? (httpStatus < 300 ? 'ESB000010' : 'ESB000001'),
      ...(extra.response_code ? { response_code: extra.response_code } : {}),
      success: httpStatus < 300,
    },
  },
});

const invalid = (what: string) => envelope(400, '400', `Invalid ${what}`, { result_code: 'ESB000008' });

type Body = Record<string, any>;

const accepted = (p: AirtelPayment) =>
  envelope(200, '200', 'Success.', {
    response_code: 'DP00800001006',
    data: { transaction: { id: p.id, status: 'Success.' } },
  });

function callbackBody(p: AirtelPayment) {
  return {
    transaction: {
      id: p.id,
      message: p.message,
      status_code: p.status,
      ...(p.airtelMoneyId ? { airtel_money_id: p.airtelMoneyId } : {}),
    },
  };
}

/** The customer's answer as the script says: TF with its code, or TS with a new Airtel Money id. */
function settleAs(p: AirtelPayment): void {
  const s = p.script;
  const failCode =
    s.outcome === 'decline' ? (s.resultCode ?? 'DP00800001007') : s.outcome === 'timeout' ? s.resultCode : undefined;
  if (failCode && failCode !== 'DP00800001001') {
    p.status = 'TF';
    p.responseCode = failCode;
    p.message = s.message ?? AIRTEL_MESSAGES[failCode] ?? 'Transaction failed.';
  } else {
    p.status = 'TS';
    p.responseCode = 'DP00800001001';
    p.message = s.message ?? 'Paid APPROVED';
    p.airtelMoneyId = `MP${new Date().toISOString().slice(2, 10).replace(/-/g, '')}.${randomCode(4)}.${randomCode(6)}`;
  }
}

/** A refund still in progress says TIP for its scripted number of enquiries, then TS. */
function refundEnquiry(r: AirtelRefund): SimResponse {
  if (r.status === 'TIP' && r.queriesPending-- <= 0) r.status = 'TS';
  const [code, message] =
    r.status === 'TS'
      ? ['DP00800001001', 'Transaction is successful.']
      : ['DP00800001006', AIRTEL_MESSAGES.DP00800001006];
  return envelope(200, '200', 'SUCCESS', {
    response_code: code,
    data: { transaction: { id: r.id, status: r.status, message, airtel_money_id: r.airtelMoneyId } },
  });
}

/** The simulator's state and one method per Airtel operation. */
class AirtelSimulator {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly country: string;
  readonly currency: string;
  private readonly ttl: number;
  readonly dial: string;
  readonly tokens = new Map<string, number>();
  readonly scripts = new Map<string, AirtelScript & { failsLeft: number }>();
  readonly payments: Map<string, AirtelPayment>;
  private readonly byMoneyId: Map<string, AirtelPayment>;
  readonly refunds: Map<string, AirtelRefund>;
  refundScript: { pendingQueries: number } | undefined;
  /** Set by startAirtelSimulator once it listens. */
  server!: JsonServer;
  /** The callback URL registered for the app (the handle's sim.callbackUrl, which tests may change). */
  callbackUrl: () => string | undefined = () => undefined;

  constructor(opts: AirtelSimOptions) {
    this.clientId = opts.clientId ?? AIRTEL_SIM_DEFAULTS.clientId;
    this.clientSecret = opts.clientSecret ?? AIRTEL_SIM_DEFAULTS.clientSecret;
    this.country = opts.country ?? AIRTEL_SIM_DEFAULTS.country;
    this.currency = opts.currency ?? AIRTEL_SIM_DEFAULTS.currency;
    this.ttl = opts.tokenTtlSeconds ?? 180;
    this.dial = DIAL[this.country] ?? '';
    const state = opts.state ?? memoryState();
    this.payments = state.map<AirtelPayment>('airtel.payments');
    this.byMoneyId = state.map<AirtelPayment>('airtel.byMoneyId');
    this.refunds = state.map<AirtelRefund>('airtel.refunds');
  }

  private authorized(req: LoggedRequest): boolean {
    const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    const exp = m ? this.tokens.get(m[1]) : undefined;
    return exp !== undefined && exp > Date.now();
  }

  async handle(req: LoggedRequest): Promise<SimResponse> {
    const path = req.path.replace(/\/+$/, '');
    const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Body;
    if (req.method === 'POST' && path === '/auth/oauth2/token') return this.oauth(body);
    if (!this.authorized(req))
      return {
        status: 401,
        body: { error: 'invalid_token', error_description: 'The access token is invalid or has expired' },
      };
    const { country, currency } = this;
    if (req.headers['x-country'] !== country)
      return envelope(400, '400', `Invalid X-Country header: expected ${country}`, { result_code: 'ESB000008' });
    if (req.headers['x-currency'] !== currency)
      return envelope(400, '400', `Invalid X-Currency header: expected ${currency}`, { result_code: 'ESB000008' });
    if (req.method === 'POST' && path === '/merchant/v1/payments') return this.pay(body);
    if (req.method === 'POST' && path === '/standard/v1/payments/refund') return this.refund(body);
    const m = /^\/standard\/v1\/payments\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && m) return this.enquiry(decodeURIComponent(m[1]));
    return envelope(404, '404', 'Resource not found');
  }

  private oauth(b: Body): SimResponse {
    if (b.grant_type !== 'client_credentials')
      return {
        status: 400,
        body: { error: 'unsupported_grant_type', error_description: 'grant_type must be client_credentials' },
      };
    if (b.client_id !== this.clientId || b.client_secret !== this.clientSecret) {
      return { status: 401, body: { error: 'invalid_client', error_description: 'Invalid client credentials' } };
    }
    const token = randomCode(32);
    this.tokens.set(token, Date.now() + this.ttl * 1000);
    return { status: 200, body: { access_token: token, expires_in: String(this.ttl), token_type: 'bearer' } };
  }

  /** Airtel's field rules for a payment (the first broken rule is named). */
  private payRefusal(b: Body): SimResponse | undefined {
    const t = b.transaction ?? {};
    const s = b.subscriber ?? {};
    const { country, currency, dial } = this;
    if (typeof b.reference !== 'string' || !b.reference) return invalid('reference');
    if (typeof t.id !== 'string' || !t.id) return invalid('transaction.id');
    if (typeof t.amount !== 'number' || !(Number(t.amount) > 0)) return invalid('transaction.amount');
    if (t.country !== country || t.currency !== currency) return invalid('transaction country/currency');
    if (s.country !== country || (s.currency !== undefined && s.currency !== currency))
      return invalid('subscriber country/currency');
    const msisdn = String(s.msisdn ?? '');
    if (!/^\d{7,10}$/.test(msisdn) || (dial && msisdn.startsWith(dial) && msisdn.length > 9))
      return invalid('subscriber.msisdn (send it without the country code)');
    return undefined;
  }

  private async pay(b: Body): Promise<SimResponse> {
    const bad = this.payRefusal(b);
    if (bad) return bad;
    const existing = this.payments.get(b.transaction.id);
    if (existing) {
      existing.requests++;
      return accepted(existing); // Airtel de-duplicates on transaction.id: no second prompt
    }
    const msisdn = String(b.subscriber.msisdn);
    const sc = this.scripts.get(msisdn);
    if (sc && sc.failsLeft > 0) {
      sc.failsLeft--;
      return envelope(500, '500', 'Something went wrong.', { result_code: 'ESB000001' });
    }
    const p = this.newPayment(b, msisdn, sc ?? { outcome: 'success' });
    await scheduleCallback(this.server, p.script, () => this.deliver(p));
    return accepted(p);
  }

  private newPayment(b: Body, msisdn: string, script: AirtelScript): AirtelPayment {
    const p: AirtelPayment = {
      id: b.transaction.id,
      msisdn,
      amount: Number(b.transaction.amount),
      reference: b.reference,
      status: 'TIP',
      responseCode: 'DP00800001006',
      message: AIRTEL_MESSAGES.DP00800001006,
      script,
      queriesPending: script.pendingQueries ?? (script.outcome === 'timeout' ? 2 : 0),
      requests: 1,
    };
    this.payments.set(p.id, p);
    return p;
  }

  private async deliver(p: AirtelPayment): Promise<void> {
    this.settle(p);
    const url = this.callbackUrl();
    if (!url) return;
    await this.server.postCallback(url, callbackBody(p));
    if (p.script.duplicateCallback) await this.server.postCallback(url, callbackBody(p));
  }

  private settle(p: AirtelPayment): void {
    if (p.status !== 'TIP') return;
    settleAs(p);
    if (p.airtelMoneyId) this.byMoneyId.set(p.airtelMoneyId, p);
  }

  private enquiry(id: string): SimResponse {
    const r = this.refunds.get(id);
    if (r) return refundEnquiry(r);
    const p = this.payments.get(id);
    if (!p) return envelope(404, '404', AIRTEL_MESSAGES.DP00800001025, { response_code: 'DP00800001025' });
    if (p.script.outcome === 'timeout' && p.status === 'TIP' && p.queriesPending === 0) this.settle(p);
    if (p.queriesPending > 0 || p.status === 'TIP') {
      if (p.queriesPending > 0) p.queriesPending--;
      return envelope(200, '200', 'SUCCESS', {
        response_code: 'DP00800001006',
        data: { transaction: { id: p.id, status: 'TIP', message: AIRTEL_MESSAGES.DP00800001006, airtel_money_id: '' } },
      });
    }
    return envelope(200, '200', 'SUCCESS', {
      response_code: p.responseCode,
      data: { transaction: { id: p.id, status: p.status, message: p.message, airtel_money_id: p.airtelMoneyId ?? '' } },
    });
  }

  private refund(b: Body): SimResponse {
    const moneyId = b.transaction?.airtel_money_id;
    if (typeof moneyId !== 'string' || !moneyId) return invalid('transaction.airtel_money_id');
    const p = this.byMoneyId.get(moneyId);
    if (!p) return envelope(400, '400', AIRTEL_MESSAGES.DP00800001025, { response_code: 'DP00800001025' });
    p.refundedAs ??= `RF${randomCode(10)}`; // idempotent: a second refund of the same payment answers the same
    const existing = [...this.refunds.values()].find((x) => x.paymentId === p.id);
    if (existing) existing.requests++;
    const r = existing ?? {
      id: typeof b.transaction?.id === 'string' && b.transaction.id ? b.transaction.id : p.id,
      paymentId: p.id,
      airtelMoneyId: p.refundedAs,
      status: this.refundScript ? 'TIP' : 'TS',
      queriesPending: this.refundScript?.pendingQueries ?? 0,
      requests: 1,
    };
    this.refunds.set(r.id, r);
    return envelope(200, '200', 'SUCCESS', {
      data: {
        transaction: { airtel_money_id: r.airtelMoneyId, id: r.id, status: r.status === 'TS' ? 'SUCCESS' : 'TIP' },
      },
    });
  }
}

export async function startAirtelSimulator(opts: AirtelSimOptions = {}): Promise<AirtelSim> {
  const core = new AirtelSimulator(opts);
  const server = await startJsonServer((req) => core.handle(req), { host: opts.host, port: opts.port });
  core.server = server;
  const sim: AirtelSim = {
    url: server.url,
    clientId: core.clientId,
    clientSecret: core.clientSecret,
    country: core.country,
    currency: core.currency,
    callbackUrl: opts.callbackUrl,
    requests: server.requests,
    callbacks: server.callbacks,
    payments: core.payments,
    refunds: core.refunds,
    scriptRefunds(script) {
      core.refundScript = script;
    },
    script(phone, script) {
      const { dial } = core;
      const national = dial && phone.startsWith(dial) ? phone.slice(dial.length) : phone.replace(/^0/, '');
      core.scripts.set(national, { ...script, failsLeft: script.failInitiate5xx ?? 0 });
    },
    revokeTokens() {
      core.tokens.clear();
    },
    close: () => server.close(),
  };
  core.callbackUrl = () => sim.callbackUrl;
  return sim;
}
