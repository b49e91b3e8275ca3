/**
 * A local Safaricom Daraja simulator: the subset of the real API that Tillflow's M-Pesa adapter
 * uses, over real HTTP on 127.0.0.1, so tests and the offline sandbox (`npm start` without
 * MPESA_* credentials) exercise the adapter's actual requests.
 *
 *   GET  /oauth/v1/generate?grant_type=client_credentials   Basic consumerKey:consumerSecret
 *   POST /mpesa/stkpush/v1/processrequest                   M-Pesa Express (STK push)
 *   POST /mpesa/stkpushquery/v1/query                       STK push query
 *   POST /mpesa/reversal/v1/request                         TransactionReversal (idempotent here)
 *   POST /mpesa/transactionstatus/v1/query                  Transaction Status (result posted to its ResultURL)
 *
 * It checks what Daraja checks: the bearer token, required fields, the shortcode, and the
 * password rule Password = base64(BusinessShortCode + passkey + Timestamp), with Timestamp
 * yyyyMMddHHmmss in Nairobi time (a UTC timestamp is 3 h off and is rejected). Responses and
 * callbacks have Daraja's shapes: string ResponseCode/ResultCode in synchronous answers, a
 * numeric ResultCode in callbacks, "The transaction is being processed" (HTTP 500,
 * errorCode 500.001.1001) while a push is unanswered, and no amount or receipt in query results.
 *
 * Departures from Daraja, on purpose: an invalid or expired token answers 401 (Daraja answers
 * 404.001.03 "Invalid Access Token"; the adapter handles both); a reversal of the same
 * TransactionID returns the first request's ConversationID instead of a second async failure.
 * A new reversal's Result is posted to its ResultURL ~50 ms later (ResultCode 0, or R000002
 * for a receipt the simulator never issued), unless sim.scriptReversals says to lose it.
 * A Transaction Status request (by the transaction's OriginatorConversationID, or its
 * TransactionID) is acknowledged at once and its Result posted to its own ResultURL ~50 ms later,
 * shaped as Daraja's: ResultParameters with TransactionStatus, ReceiptNo, Amount and the queried
 * transaction's ConversationID / OriginatorConversationID (Result.ConversationID is the query's).
 *
 * Each phone can be scripted (sim.script); an unscripted phone pays after ~50 ms.
 */
import {
  nairobiTimestamp,
  randomCode,
  scheduleCallback,
  startJsonServer,
  type CallbackDelivery,
  type JsonServer,
  type LoggedRequest,
  type SimResponse,
} from './http';
import { memoryState, type SimState } from './state';

export interface DarajaSimOptions {
  shortCode?: string;
  passkey?: string;
  consumerKey?: string;
  consumerSecret?: string;
  /** Access token lifetime (Daraja: 3599 s). */
  tokenTtlSeconds?: number;
  /** How far a Timestamp may be from Nairobi's clock (default 10 min). */
  timestampToleranceMs?: number;
  host?: string;
  port?: number;
  /** Where pushes, reversals and receipts are kept (default: memory). */
  state?: SimState;
}

export interface DarajaScript {
  /**
   * success: the customer pays; decline: the callback carries resultCode (default 1032);
   * timeout: no callback at all (unless lateCallbackMs); queries say pending `pendingQueries`
   * times (default 2), then report resultCode (default 0, paid).
   */
  outcome: 'success' | 'decline' | 'timeout';
  resultCode?: number;
  /** Delay before the callback (default 50 ms). */
  callbackDelayMs?: number;
  /** timeout only: deliver the callback anyway, this long after the push (a late answer). */
  lateCallbackMs?: number;
  /** Deliver the same callback twice. */
  duplicateCallback?: boolean;
  /** Deliver the callback (and wait for the receiver) before answering the push request. */
  callbackBeforeResponse?: boolean;
  /** Queries answer "The transaction is being processed" this many times even once a result exists. */
  pendingQueries?: number;
  /** The next K pushes for this phone fail with HTTP 500 (System is busy) before any is accepted. */
  failInitiate5xx?: number;
  /** The callback reports this Amount (shillings) instead of the pushed one. */
  amountOverride?: number;
  /** Daraja accepts the first push for this phone, but its answer is lost (the connection drops). */
  dropFirstResponse?: boolean;
}

export interface DarajaPush {
  merchantRequestId: string;
  checkoutRequestId: string;
  phone: string;
  amount: number;
  accountReference: string;
  callbackUrl: string;
  /** null until the customer's answer exists at Safaricom. */
  resultCode: number | null;
  resultDesc?: string;
  receipt?: string;
  /** When M-Pesa completed it (YYYYMMDDHHmmss, Nairobi): fixed once, so a repeated callback is byte-identical. */
  transactionDate?: number;
  script: DarajaScript;
  queriesPending: number;
}

export interface DarajaReversal {
  transactionId: string;
  amount: number;
  conversationId: string;
  originatorConversationId: string;
  /** How many reversal requests named this TransactionID (1 = no duplicates). */
  requests: number;
  /** Whether TransactionID was a receipt this simulator issued. */
  known: boolean;
  /** The reversal's own M-Pesa receipt. */
  receipt: string;
  /** How the reversal ended at M-Pesa (0 = completed), whether or not its Result was delivered. */
  resultCode: number | string;
  /** Whether its Result was posted to the ResultURL (false when scripted to be lost). */
  resultSent: boolean;
}

/** How the next reversals behave. */
export interface DarajaReversalScript {
  /** The reversal completes at M-Pesa, but its Result never reaches the ResultURL. */
  loseResult?: boolean;
  /** The reversal's ResultCode (default 0 for a receipt the simulator issued). */
  resultCode?: number | string;
  /** Transaction Status requests are acknowledged, but their Results are lost too. */
  loseStatusResults?: boolean;
}

/** A Transaction Status request the simulator received. */
export interface DarajaStatusQuery {
  transactionId?: string;
  originatorConversationId?: string;
  resultUrl: string;
  /** The reversal it found, if any. */
  found?: string;
}

export interface DarajaSim {
  url: string;
  shortCode: string;
  passkey: string;
  consumerKey: string;
  consumerSecret: string;
  requests: LoggedRequest[];
  callbacks: CallbackDelivery[];
  pushes: Map<string, DarajaPush>;
  reversals: Map<string, DarajaReversal>;
  statusQueries: DarajaStatusQuery[];
  /** Script every reversal from now on (undefined: results are delivered, ResultCode 0). */
  scriptReversals(script: DarajaReversalScript | undefined): void;
  /** Script every push to this phone (2547XXXXXXXX) from now on. */
  script(phone: string, script: DarajaScript): void;
  /** Forget issued tokens (the next API call with an old token gets 401). */
  revokeTokens(): void;
  close(): Promise<void>;
}

/** Safaricom's published sandbox values (the public test shortcode and its Lipa na M-Pesa passkey). */
export const DARAJA_SIM_DEFAULTS = {
  shortCode: '174379',
  passkey: 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919',
  consumerKey: 'tillflow-sandbox-consumer-key',
  consumerSecret: 'tillflow-sandbox-consumer-secret',
} as const;

/** ResultDesc texts as Daraja sends them. */
export const DARAJA_RESULT_DESC: Record<number, string> = {
  0: 'The service request is processed successfully.',
  1: 'The balance is insufficient for the transaction.',
  1001: 'Unable to lock subscriber, a transaction is already in process for the current subscriber',
  1019: 'Transaction has expired.',
  1025: 'An error occurred while sending a push request.',
  1032: 'Request cancelled by user',
  1037: 'DS timeout user cannot be reached',
  2001: 'The initiator information is invalid.',
  9999: 'An error occurred while sending a push request.',
};

const err = (status: number, errorCode: string, errorMessage: string): SimResponse => ({
  status,
  body: { requestId: `${randomCode(5)}-${Date.now()}-1`, errorCode, errorMessage },
});
/** Daraja's CheckoutRequestIDs look like ws_CO_191220191020363925: Nairobi day-first time, then digits. */
function ddmmyyyyhhmmss(): string {
  const t = nairobiTimestamp();
  return t.slice(6, 8) + t.slice(4, 6) + t.slice(0, 4) + t.slice(8);
}
const badRequest = (what: string) => err(400, '400.002.02', `Bad Request - Invalid ${what}`);

type Body = Record<string, unknown>;
type PhoneScript = DarajaScript & { failsLeft: number; dropped?: boolean };
const STK_TYPES = ['CustomerPayBillOnline', 'CustomerBuyGoodsOnline'];

/** The first of these fields that is not a non-empty string, if any. */
function missingString(b: Body, fields: readonly string[]): SimResponse | undefined {
  for (const f of fields) {
    if (typeof b[f] !== 'string' || !(b[f] as string).length) return badRequest(f);
  }
  return undefined;
}

function stringOfLength(v: unknown, max: number): boolean {
  return typeof v === 'string' && v.length >= 1 && v.length <= max;
}

/** Daraja's field rules for an STK push, after the password (the first broken rule is named). */
function pushRefusal(b: Body): SimResponse | undefined {
  if (!STK_TYPES.includes(b.TransactionType as string)) return badRequest('TransactionType');
  const amount = Number(b.Amount);
  if (!Number.isInteger(amount) || amount < 1) return badRequest('Amount');
  const phone = String(b.PhoneNumber ?? '');
  if (!/^254[17]\d{8}$/.test(phone)) return badRequest('PhoneNumber');
  if (String(b.PartyA ?? '') !== phone) return badRequest('PartyA');
  if (!/^\d{5,7}$/.test(String(b.PartyB ?? ''))) return badRequest('PartyB');
  if (typeof b.CallBackURL !== 'string' || !/^https?:\/\/[^\s]+$/.test(b.CallBackURL)) return badRequest('CallBackURL');
  if (!stringOfLength(b.AccountReference, 12)) return badRequest('AccountReference');
  if (!stringOfLength(b.TransactionDesc, 13)) return badRequest('TransactionDesc');
  return undefined;
}

/** The ResultCode the customer's answer will carry. */
function finalCodeOf(script: DarajaScript): number {
  if (script.outcome === 'success') return 0;
  return script.outcome === 'decline' ? (script.resultCode ?? 1032) : (script.resultCode ?? 0);
}

/** Daraja's Timestamp (yyyyMMddHHmmss, Nairobi) as ms since the epoch. */
function nairobiToUtcMs(ts: string): number {
  const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((i) => +ts.slice(i, i + (i === 0 ? 4 : 2)));
  return Date.UTC(y, mo - 1, d, h, mi, s) - 3 * 3600_000;
}

/** A conversation id shaped as Daraja's (AG_yyyyMMdd_…). */
function conversationId(): string {
  return `AG_${nairobiTimestamp().slice(0, 8)}_${randomCode(20)}`;
}

function accepted(originatorConversationId: string, conversation: string): SimResponse {
  return {
    status: 200,
    body: {
      OriginatorConversationID: originatorConversationId,
      ConversationID: conversation,
      ResponseCode: '0',
      ResponseDescription: 'Accept the service request successfully.',
    },
  };
}

function settlePush(push: DarajaPush, code: number, complete: (p: DarajaPush) => void): void {
  push.resultCode = code;
  push.resultDesc = DARAJA_RESULT_DESC[code] ?? `Result ${code}`;
  if (code === 0) complete(push);
}

/** The simulator's state and one method per Daraja operation. */
class DarajaSimulator {
  readonly shortCode: string;
  readonly passkey: string;
  readonly consumerKey: string;
  readonly consumerSecret: string;
  private readonly ttl: number;
  private readonly tolerance: number;
  readonly tokens = new Map<string, number>(); // token → expiry (ms)
  readonly scripts = new Map<string, PhoneScript>();
  readonly pushes: Map<string, DarajaPush>;
  readonly reversals: Map<string, DarajaReversal>;
  private readonly receipts: Map<string, DarajaPush>;
  readonly statusQueries: DarajaStatusQuery[] = [];
  reversalScript: DarajaReversalScript | undefined;
  private seq: number;
  /** Set by startDarajaSimulator once it listens. */
  server!: JsonServer;

  constructor(opts: DarajaSimOptions) {
    this.shortCode = opts.shortCode ?? DARAJA_SIM_DEFAULTS.shortCode;
    this.passkey = opts.passkey ?? DARAJA_SIM_DEFAULTS.passkey;
    this.consumerKey = opts.consumerKey ?? DARAJA_SIM_DEFAULTS.consumerKey;
    this.consumerSecret = opts.consumerSecret ?? DARAJA_SIM_DEFAULTS.consumerSecret;
    this.ttl = opts.tokenTtlSeconds ?? 3599;
    this.tolerance = opts.timestampToleranceMs ?? 10 * 60_000;
    const state = opts.state ?? memoryState();
    this.pushes = state.map<DarajaPush>('daraja.pushes');
    this.reversals = state.map<DarajaReversal>('daraja.reversals');
    this.receipts = state.map<DarajaPush>('daraja.receipts');
    // Restored pushes keep their ids: go on counting after them.
    this.seq = this.pushes.size;
  }

  private authorized(req: LoggedRequest): boolean {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const exp = m ? this.tokens.get(m[1]) : undefined;
    return exp !== undefined && exp > Date.now();
  }

  /** Password = base64(shortCode + passkey + Timestamp), Timestamp in Nairobi time. */
  private checkPassword(body: Body): SimResponse | undefined {
    if (String(body.BusinessShortCode ?? '') !== this.shortCode) return badRequest('BusinessShortCode');
    const ts = body.Timestamp;
    if (typeof ts !== 'string' || !/^\d{14}$/.test(ts)) return badRequest('Timestamp');
    const asUtc = nairobiToUtcMs(ts);
    if (!Number.isFinite(asUtc) || Math.abs(asUtc - Date.now()) > this.tolerance) return badRequest('Timestamp');
    const expected = Buffer.from(`${this.shortCode}${this.passkey}${ts}`).toString('base64');
    if (body.Password !== expected) return badRequest('Password');
    return undefined;
  }

  async handle(req: LoggedRequest): Promise<SimResponse> {
    const route = `${req.method} ${req.path.replace(/\/+$/, '')}`;
    if (route === 'GET /oauth/v1/generate') return this.oauth(req);
    const isApi = route.startsWith('POST /mpesa/');
    if (!isApi) return err(404, '404.001.01', 'Resource not found');
    if (!this.authorized(req)) return err(401, '404.001.03', 'Invalid Access Token');
    const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Body;
    switch (route) {
      case 'POST /mpesa/stkpush/v1/processrequest':
        return this.stkPush(body);
      case 'POST /mpesa/stkpushquery/v1/query':
        return this.stkQuery(body);
      case 'POST /mpesa/reversal/v1/request':
        return this.reversal(body);
      case 'POST /mpesa/transactionstatus/v1/query':
        return this.transactionStatus(body);
      default:
        return err(404, '404.001.01', 'Resource not found');
    }
  }

  private oauth(req: LoggedRequest): SimResponse {
    if (req.query.grant_type !== 'client_credentials') return err(400, '400.008.02', 'Invalid grant type passed');
    const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const [key, secret] = m ? Buffer.from(m[1], 'base64').toString('utf8').split(':') : [];
    if (key !== this.consumerKey || secret !== this.consumerSecret) {
      return err(401, '400.008.01', 'Invalid Authentication passed');
    }
    const token = randomCode(28);
    this.tokens.set(token, Date.now() + this.ttl * 1000);
    return { status: 200, body: { access_token: token, expires_in: String(this.ttl) } };
  }

  private async stkPush(b: Body): Promise<SimResponse> {
    const bad = this.checkPassword(b) ?? pushRefusal(b);
    if (bad) return bad;
    const sc = this.scripts.get(String(b.PhoneNumber));
    if (sc && sc.failsLeft > 0) {
      sc.failsLeft--;
      return err(500, '500.003.02', 'System is busy. Please try again in few minutes.');
    }
    const dropAnswer = sc?.dropFirstResponse === true && !sc.dropped;
    if (dropAnswer) sc.dropped = true;
    const script: DarajaScript = sc ?? { outcome: 'success' };
    const push = this.newPush(b, script);
    const response: SimResponse = {
      drop: dropAnswer,
      status: 200,
      body: {
        MerchantRequestID: push.merchantRequestId,
        CheckoutRequestID: push.checkoutRequestId,
        ResponseCode: '0',
        ResponseDescription: 'Success. Request accepted for processing',
        CustomerMessage: 'Success. Request accepted for processing',
      },
    };
    await this.scheduleCallback(push, script);
    return response;
  }

  private newPush(b: Body, script: DarajaScript): DarajaPush {
    this.seq++;
    const push: DarajaPush = {
      merchantRequestId: `${10000 + this.seq}-${Math.floor(Math.random() * 1e8)}-1`,
      checkoutRequestId: `ws_CO_${ddmmyyyyhhmmss()}${String(this.seq).padStart(6, '0')}`,
      phone: String(b.PhoneNumber),
      amount: Number(b.Amount),
      accountReference: b.AccountReference as string,
      callbackUrl: b.CallBackURL as string,
      resultCode: null,
      script,
      queriesPending: script.pendingQueries ?? (script.outcome === 'timeout' ? 2 : 0),
    };
    this.pushes.set(push.checkoutRequestId, push);
    return push;
  }

  /** When the customer's answer comes: later, before the response, late (timeout), or never. */
  private async scheduleCallback(push: DarajaPush, script: DarajaScript): Promise<void> {
    const deliver = async () => {
      if (push.resultCode === null) settlePush(push, finalCodeOf(script), (p) => this.complete(p));
      await this.server.postCallback(push.callbackUrl, callbackBody(push));
      if (script.duplicateCallback) await this.server.postCallback(push.callbackUrl, callbackBody(push));
    };
    // A timeout's answer exists at Safaricom once the queries stop saying "being processed"; a late callback may still come.
    return scheduleCallback(this.server, script, deliver);
  }

  private complete(p: DarajaPush): void {
    p.receipt = randomCode(10);
    p.transactionDate = Number(nairobiTimestamp());
    this.receipts.set(p.receipt, p);
  }

  private stkQuery(b: Body): SimResponse {
    const bad = this.checkPassword(b);
    if (bad) return bad;
    const push = this.pushes.get(String(b.CheckoutRequestID ?? ''));
    if (!push) return badRequest('CheckoutRequestID');
    if (push.script.outcome === 'timeout' && push.resultCode === null && push.queriesPending === 0) {
      // A timed-out push gets its answer after the scripted number of pending queries.
      settlePush(push, push.script.resultCode ?? 0, (p) => this.complete(p));
    }
    if (push.queriesPending > 0 || push.resultCode === null) {
      if (push.queriesPending > 0) push.queriesPending--;
      return err(500, '500.001.1001', 'The transaction is being processed');
    }
    return {
      status: 200,
      body: {
        ResponseCode: '0',
        ResponseDescription: 'The service request has been accepted successsfully',
        MerchantRequestID: push.merchantRequestId,
        CheckoutRequestID: push.checkoutRequestId,
        ResultCode: String(push.resultCode),
        ResultDesc: push.resultDesc,
      },
    };
  }

  private reversal(b: Body): SimResponse {
    const bad = missingString(b, ['Initiator', 'SecurityCredential', 'TransactionID', 'ResultURL', 'QueueTimeOutURL']);
    if (bad) return bad;
    if (b.CommandID !== 'TransactionReversal') return badRequest('CommandID');
    if (String(b.ReceiverParty ?? '') !== this.shortCode) return badRequest('ReceiverParty');
    const amount = Number(b.Amount);
    if (!Number.isInteger(amount) || amount < 1) return badRequest('Amount');
    const txId = b.TransactionID as string;
    let r = this.reversals.get(txId);
    if (r) r.requests++;
    else {
      const paid = this.receipts.get(txId);
      // What was really paid is the pushed amount, whatever the callback claimed.
      if (paid && amount > paid.amount) return badRequest('Amount');
      r = this.newReversal(txId, amount, paid !== undefined);
      const sent = r;
      if (sent.resultSent)
        this.server.later(50, () =>
          this.server.postCallback(b.ResultURL as string, reversalResult(sent)).then(() => undefined),
        );
    }
    return accepted(r.originatorConversationId, r.conversationId);
  }

  private newReversal(txId: string, amount: number, known: boolean): DarajaReversal {
    const r: DarajaReversal = {
      transactionId: txId,
      amount,
      conversationId: conversationId(),
      originatorConversationId: `${10000 + this.reversals.size}-${Math.floor(Math.random() * 1e8)}-1`,
      requests: 1,
      known,
      receipt: randomCode(10),
      resultCode: this.reversalScript?.resultCode ?? (known ? 0 : 'R000002'),
      resultSent: !this.reversalScript?.loseResult,
    };
    this.reversals.set(txId, r);
    return r;
  }

  /** Transaction Status: acknowledged at once; the Result (the queried reversal's state) goes to ResultURL. */
  private transactionStatus(b: Body): SimResponse {
    const bad = missingString(b, ['Initiator', 'SecurityCredential', 'ResultURL', 'QueueTimeOutURL']);
    if (bad) return bad;
    if (b.CommandID !== 'TransactionStatusQuery') return badRequest('CommandID');
    if (String(b.PartyA ?? '') !== this.shortCode) return badRequest('PartyA');
    if (String(b.IdentifierType ?? '') !== '4') return badRequest('IdentifierType');
    const txId = typeof b.TransactionID === 'string' && b.TransactionID.trim() ? b.TransactionID.trim() : undefined;
    const originator =
      typeof b.OriginatorConversationID === 'string' && b.OriginatorConversationID
        ? b.OriginatorConversationID
        : undefined;
    if (!txId && !originator) return badRequest('TransactionID');
    const found = [...this.reversals.values()].find(
      (r) => (originator && r.originatorConversationId === originator) || (txId && r.receipt === txId),
    );
    this.statusQueries.push({
      transactionId: txId,
      originatorConversationId: originator,
      resultUrl: b.ResultURL as string,
      found: found?.transactionId,
    });
    const query = {
      conversationId: conversationId(),
      originatorConversationId: `${20000 + this.statusQueries.length}-${Math.floor(Math.random() * 1e8)}-1`,
    };
    if (!this.reversalScript?.loseStatusResults)
      this.server.later(50, () =>
        this.server
          .postCallback(b.ResultURL as string, statusResult(this.shortCode, query, found))
          .then(() => undefined),
      );
    return accepted(query.originatorConversationId, query.conversationId);
  }
}

function callbackBody(p: DarajaPush) {
  const stkCallback: Record<string, unknown> = {
    MerchantRequestID: p.merchantRequestId,
    CheckoutRequestID: p.checkoutRequestId,
    ResultCode: p.resultCode,
    ResultDesc: p.resultDesc,
  };
  if (p.resultCode === 0) {
    stkCallback.CallbackMetadata = {
      Item: [
        { Name: 'Amount', Value: p.script.amountOverride ?? p.amount },
        { Name: 'MpesaReceiptNumber', Value: p.receipt },
        { Name: 'Balance' },
        { Name: 'TransactionDate', Value: p.transactionDate },
        { Name: 'PhoneNumber', Value: Number(p.phone) },
      ],
    };
  }
  return { Body: { stkCallback } };
}

function reversalResult(r: DarajaReversal) {
  return {
    Result: {
      ResultType: 0,
      ResultCode: r.resultCode,
      ResultDesc: reversalDesc(r),
      OriginatorConversationID: r.originatorConversationId,
      ConversationID: r.conversationId,
      TransactionID: r.receipt,
      ReferenceData: {
        ReferenceItem: {
          Key: 'QueueTimeoutURL',
          Value: 'https://internalsandbox.safaricom.co.ke/mpesa/reversalresults/v1/submit',
        },
      },
    },
  };
}

function reversalDesc(r: DarajaReversal): string {
  if (String(r.resultCode) === '0') return 'The service request is processed successfully.';
  return r.resultCode === 'R000002' ? 'The OriginalTransactionID is invalid.' : `Reversal failed (${r.resultCode})`;
}

function statusResult(
  shortCode: string,
  query: { conversationId: string; originatorConversationId: string },
  r: DarajaReversal | undefined,
) {
  const head = {
    ResultType: 0,
    OriginatorConversationID: query.originatorConversationId,
    ConversationID: query.conversationId,
    TransactionID: 'UAB0000000',
  };
  // The query found nothing: ResultCode says so and no parameters follow.
  if (!r) return { Result: { ...head, ResultCode: 2001, ResultDesc: 'The transaction could not be found.' } };
  const completed = String(r.resultCode) === '0';
  const now = Number(nairobiTimestamp());
  const parameter = (Key: string, Value?: unknown) => (Value === undefined ? { Key } : { Key, Value });
  return {
    Result: {
      ...head,
      ResultCode: 0,
      ResultDesc: 'The service request is processed successfully.',
      ResultParameters: {
        ResultParameter: [
          parameter('DebitPartyName', `${shortCode} - Tillflow Sandbox`),
          parameter('CreditPartyName', '254712345678 - Sandbox Customer'),
          parameter('OriginatorConversationID', r.originatorConversationId),
          parameter('InitiatedTime', now),
          parameter('DebitAccountType', 'Utility Account'),
          parameter('DebitPartyCharges'),
          parameter('TransactionReason'),
          parameter('ReasonType', 'Reversal'),
          parameter('TransactionStatus', completed ? 'Completed' : 'Declined'),
          parameter('FinalisedTime', now),
          parameter('Amount', r.amount),
          parameter('ConversationID', r.conversationId),
          parameter('ReceiptNo', r.receipt),
        ],
      },
      ReferenceData: { ReferenceItem: { Key: 'Occasion' } },
    },
  };
}

export async function startDarajaSimulator(opts: DarajaSimOptions = {}): Promise<DarajaSim> {
  const sim = new DarajaSimulator(opts);
  const server = await startJsonServer((req) => sim.handle(req), { host: opts.host, port: opts.port });
  sim.server = server;
  return {
    url: server.url,
    shortCode: sim.shortCode,
    passkey: sim.passkey,
    consumerKey: sim.consumerKey,
    consumerSecret: sim.consumerSecret,
    requests: server.requests,
    callbacks: server.callbacks,
    pushes: sim.pushes,
    reversals: sim.reversals,
    statusQueries: sim.statusQueries,
    scriptReversals(script) {
      sim.reversalScript = script;
    },
    script(phone, script) {
      sim.scripts.set(phone, { ...script, failsLeft: script.failInitiate5xx ?? 0 });
    },
    revokeTokens() {
      sim.tokens.clear();
    },
    close: () => server.close(),
  };
}
