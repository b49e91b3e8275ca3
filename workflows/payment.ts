/**
 * One `payment` workflow per gateway payment (id `payment-<orderId>-<n>`), a child of its order's
 * checkout. It initiates the charge, waits durably for the outcome (webhook signal, else status
 * queries with backoff), and reports every change to the checkout. Money moves exactly once:
 * every gateway call carries the workflow id as idempotency key, an unsigned callback counts only
 * after a status query confirms it, and a success that arrives after a cancel is refunded.
 */
import {
  ApplicationFailure,
  condition,
  type ExternalWorkflowHandle,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import * as msg from '../core/messages';
import { GATEWAY_FAILURE_TYPES } from '../core/failures';
import { GatewayEvent, PaymentReport, PaymentWorkflowInput, UNSIGNED_GATEWAYS, eventIsFor } from '../core/payment';
import { SA } from '../core/search-attributes';
import { formatMoney } from '../core/format';
import { MPESA_RESULT_PATH, reversalResultSignal, type RefundStatus } from '../core/refund';
import type { PaymentActivities } from '../activities/payments/activities';

const { registerPayment, settlePayment } = proxyActivities<PaymentActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '10 seconds' },
});
// Gateway calls: a 5xx or network error is retried with backoff; declines are results, not errors.
const gateway = proxyActivities<PaymentActivities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [GATEWAY_FAILURE_TYPES.notConfigured],
  },
});

// Asking where a reversal stands: a failure is tried again later, never allowed to hold up the wait.
const statusProxy = proxyActivities<PaymentActivities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * Runs of this code send an automatic reversal with a ResultURL of the payment's own (as refunds
 * do) and count it as refunded only once a result says so; older runs counted a reversal the
 * gateway had merely accepted.
 */
const AWAIT_REVERSAL = 'auto-reversal-awaits-result';
/** refund()'s answer for a reversal the gateway accepted whose result is still to come. */
const REVERSAL_PENDING = 'reversal-pending';

const GATEWAY_LABEL: Record<string, string> = {
  square: 'Square',
  stripe: 'Stripe',
  qr: 'QR',
  mpesa: 'M-Pesa',
  airtel: 'Airtel Money',
};

export async function payment(input: PaymentWorkflowInput): Promise<PaymentReport> {
  return new PaymentRun(input).run();
}

type Outcome = PaymentReport['status'];
interface FinishExtra {
  failureReason?: string;
  autoRefunded?: boolean;
  resolvedBy?: msg.ResolveRequest;
  refundAmount?: number;
  needsSupport?: boolean;
}

/** An activity failure's own message (the ActivityFailure wrapping it says only that the activity failed). */
const causeOf = (err: unknown) => (err as ApplicationFailure).cause?.message ?? (err as Error).message;
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/**
 * One payment's state and steps: initiate, wait for the outcome (callbacks, else status queries),
 * finish (settle, tell the order), then watch for a late success or await an automatic reversal.
 */
class PaymentRun {
  private readonly workflowId = workflowInfo().workflowId;
  /** Every gateway call of this payment carries it: retries and replays never charge twice. */
  private readonly idempotencyKey = this.workflowId;
  private readonly total: number;
  private readonly label: string;
  private readonly unsigned: boolean;
  private readonly parent: ExternalWorkflowHandle;
  private readonly report: PaymentReport;
  private readonly events: GatewayEvent[] = [];
  private readonly seenEvents = new Set<string>();
  private cancelRequested = false;
  private resolution: msg.ResolveRequest | undefined;
  /** The gateway's receipt (M-Pesa receipt number): what a reversal needs. */
  private receipt: string | undefined;
  /** The receipt of an unsigned success callback a query has not yet confirmed (kept once one does, dropped if one contradicts it). */
  private unconfirmedReceipt: string | undefined;
  /** What the gateway itself last said; 'pending' means the money may still move. */
  private lastGatewayStatus: GatewayEvent['status'] = 'pending';
  private refunded = false;
  /** An automatic reversal sent and not yet answered (where to ask, and its answers so far). */
  private reversal: { reference: string; statusReference?: string; resultUrl: string } | undefined;
  private readonly reversalEvents: { status: RefundStatus; failureReason?: string }[] = [];
  private readonly waitNote: string;

  constructor(private readonly input: PaymentWorkflowInput) {
    this.total = input.amount + input.tip + input.fee;
    this.label = GATEWAY_LABEL[input.gateway] ?? input.gateway;
    this.unsigned = UNSIGNED_GATEWAYS.includes(input.gateway);
    this.parent = getExternalWorkflowHandle(input.parentWorkflowId);
    this.report = { id: input.paymentId, status: 'pending' };
    this.waitNote = `automatic reversal sent, waiting for ${this.label}'s result`;
    this.setHandlers();
  }

  private setHandlers(): void {
    setHandler(msg.paymentStateQuery, () => this.report);
    setHandler(msg.gatewayEventSignal, (e) => {
      // Another gateway's word never moves this payment (an Airtel callback naming a card payment's workflow id).
      if (!eventIsFor(e, this.input.gateway)) return;
      if (this.seenEvents.has(e.eventId)) return; // duplicate delivery: no second effect
      this.seenEvents.add(e.eventId);
      this.events.push(e);
    });
    setHandler(msg.cancelPaymentSignal, () => {
      this.cancelRequested = true;
    });
    setHandler(msg.resolvePaymentSignal, (r) => {
      this.resolution = r;
    });
    setHandler(reversalResultSignal, (e) => {
      if (this.seenEvents.has(e.eventId)) return; // duplicate delivery: no second effect
      this.seenEvents.add(e.eventId);
      this.reversalEvents.push(e);
    });
  }

  async run(): Promise<PaymentReport> {
    const { input, total } = this;
    upsertSearchAttributes([
      { key: SA.paymentStatus, value: 'pending' },
      { key: SA.paymentMethod, value: [input.method] },
      { key: SA.locationId, value: input.locationId },
      { key: SA.orderTotal, value: total },
      ...(input.orderNumber !== null ? [{ key: SA.orderNumber, value: input.orderNumber }] : []),
    ]);
    setCurrentDetails(`initiating ${this.label} payment of ${formatMoney(total, input.currency)}`);
    const { callbackToken } = await registerPayment({
      paymentId: input.paymentId,
      orderId: input.orderId,
      locationId: input.locationId,
      seq: input.seq,
      method: input.method,
      provider: input.provider,
      amount: input.amount,
      tip: input.tip,
      fee: input.fee,
      workflowId: this.workflowId,
    });
    let initiated;
    try {
      initiated = await this.initiate(callbackToken);
    } catch (err) {
      return this.finish('failed', { failureReason: `could not reach ${this.label}: ${causeOf(err)}` });
    }
    const initiatedReport = {
      reference: initiated.reference,
      action: initiated.action,
      sandbox: initiated.sandbox,
      failureReason: initiated.failureReason,
    };
    this.lastGatewayStatus = initiated.status;
    // Settled by the initiating call (a confirmed card, a decline): report it once, with its outcome,
    // so the order's addPayment answers 201 with the result instead of 202 pending.
    if (initiated.status !== 'pending') {
      Object.assign(this.report, initiatedReport);
      return this.finish(initiated.status, { failureReason: initiated.failureReason });
    }
    await this.publish(initiatedReport);
    return this.awaitOutcome();
  }

  /** A gateway that stays down does not hold the payment forever: initiate gives up at expiry. */
  private initiate(callbackToken: string) {
    const { input } = this;
    const initiateWithin = proxyActivities<PaymentActivities>({
      startToCloseTimeout: '30 seconds',
      scheduleToCloseTimeout: Math.max(input.timing.expireAfterMs, 30_000),
      retry: {
        initialInterval: '1 second',
        maximumInterval: '30 seconds',
        nonRetryableErrorTypes: [GATEWAY_FAILURE_TYPES.notConfigured, GATEWAY_FAILURE_TYPES.rejected],
      },
    });
    return initiateWithin.initiatePayment({
      gateway: input.gateway,
      request: {
        paymentId: input.paymentId,
        orderId: input.orderId,
        orderNumber: input.orderNumber,
        idempotencyKey: this.idempotencyKey,
        total: this.total,
        amount: input.amount,
        tip: input.tip,
        fee: input.fee,
        currency: input.currency,
        description: `Order #${input.orderNumber ?? ''}`.trim(),
        deviceId: input.deviceId,
        sourceId: input.sourceId,
        phone: input.phone,
        callbackUrl: `${input.publicBaseUrl}/webhooks/${input.gateway}/${callbackToken}`,
        expiresAt: new Date(Date.now() + input.timing.expireAfterMs).toISOString(),
      },
    });
  }

  /** Waits for the gateway's word: a callback first, then status queries with backoff, until expiry. */
  private async awaitOutcome(): Promise<PaymentReport> {
    const { timing, currency } = this.input;
    const startedAt = Date.now();
    let pollDelay = timing.pollInitialMs;
    let waited = false;
    for (;;) {
      setCurrentDetails(
        `waiting for ${this.label} ${waited ? 'status' : 'callback'} since ${clock(startedAt)} UTC · ${formatMoney(this.total, currency)}`,
      );
      const remaining = timing.expireAfterMs - (Date.now() - startedAt);
      const wait = waited ? Math.min(pollDelay, remaining) : Math.min(timing.callbackWaitMs, remaining);
      await condition(
        () => this.events.length > 0 || this.cancelRequested || this.resolution !== undefined,
        Math.max(wait, 1),
      );

      if (this.resolution) return this.resolveByManager(this.resolution);
      if (this.cancelRequested) return this.cancel();

      let outcome = this.events.shift();
      if (outcome && !this.screen(outcome)) continue;
      if (outcome && this.unsigned && outcome.status !== 'pending') {
        outcome = await this.confirmCallback(outcome); // unsigned callback: ask the gateway before money counts
      }
      if (!outcome) {
        waited = true;
        if (Date.now() - startedAt >= timing.expireAfterMs) return this.expire();
        outcome = await this.confirm();
        pollDelay = Math.min(pollDelay * 2, timing.pollMaxMs);
      }
      this.lastGatewayStatus = outcome.status;
      if (outcome.status === 'pending') continue;
      if (outcome.receipt) this.receipt = outcome.receipt;
      if (outcome.status === 'succeeded' && outcome.amountPaid !== undefined && outcome.amountPaid !== this.total)
        return this.amountMismatch(outcome.amountPaid);
      return this.finish(outcome.status, { failureReason: outcome.failureReason });
    }
  }

  /**
   * A gateway event before it counts: false when an unsigned callback names another charge than
   * the stored one (not this payment's word). Older runs adopted any event's reference at once;
   * newer ones adopt an unsigned callback's only once a query confirms it (confirmCallback).
   */
  private screen(e: GatewayEvent): boolean {
    if (this.unsigned && this.isForeignCharge(e) && patched('ignore-callback-for-another-charge')) return false;
    if (e.reference && !this.report.reference && !(this.unsigned && patched('adopt-reference-once-confirmed')))
      this.report.reference = e.reference;
    return true;
  }

  /** A callback naming a charge other than the stored one (none stored yet: it may be ours, the query decides). */
  private isForeignCharge(e: GatewayEvent): boolean {
    const stored = this.report.reference;
    return e.reference !== undefined && stored !== undefined && stored !== '' && e.reference !== stored;
  }

  private async publish(changes: Partial<PaymentReport>): Promise<void> {
    Object.assign(this.report, changes);
    upsertSearchAttributes([{ key: SA.paymentStatus, value: this.report.status }]);
    await this.tellOrder();
  }

  /** The order may have finished already (paid in cash after a cancel): the report then has no reader. */
  private async tellOrder(): Promise<void> {
    try {
      await this.parent.signal(msg.paymentUpdatedSignal, { ...this.report });
    } catch {
      setCurrentDetails(`order ${this.input.orderId} has ended; payment ${this.report.status}`);
    }
  }

  /** The gateway's answer to a status query; a gateway that refuses to answer counts as still pending. */
  private async confirm(reference = this.report.reference): Promise<GatewayEvent> {
    if (!reference) return { eventId: `status-${Date.now()}`, status: 'pending' };
    try {
      const s = await gateway.paymentStatus({
        gateway: this.input.gateway,
        reference,
        idempotencyKey: this.idempotencyKey,
        total: this.total,
        currency: this.input.currency,
      });
      if (s.status === 'succeeded') this.receipt = s.receipt ?? this.receipt ?? this.unconfirmedReceipt;
      if (s.status !== 'pending') this.unconfirmedReceipt = undefined;
      this.lastGatewayStatus = s.status;
      return {
        eventId: `status-${Date.now()}`,
        status: s.status,
        amountPaid: s.amountPaid,
        failureReason: s.failureReason,
        receipt: s.receipt,
      };
    } catch (err) {
      setCurrentDetails(`${this.label} status query refused: ${causeOf(err)}`);
      return { eventId: `status-${Date.now()}`, status: 'pending' };
    }
  }

  /**
   * An unsigned callback counts once the gateway confirms its status; only then are its amount and
   * receipt kept (a reversal names that receipt). Without a stored reference (initiate's answer was
   * lost), the callback's own reference is queried and adopted only when the query confirms it.
   */
  private async confirmCallback(callback: GatewayEvent): Promise<GatewayEvent> {
    const adopting = !this.report.reference && callback.reference !== undefined;
    if (!adopting && callback.status === 'succeeded' && callback.receipt) this.unconfirmedReceipt = callback.receipt;
    const confirmed = await this.confirm(this.report.reference || callback.reference);
    if (confirmed.status !== callback.status) return adopting ? { ...confirmed, status: 'pending' } : confirmed;
    if (adopting) this.report.reference = callback.reference;
    if (callback.status === 'succeeded' && callback.receipt) this.receipt = confirmed.receipt ?? callback.receipt;
    return {
      ...confirmed,
      amountPaid: confirmed.amountPaid ?? callback.amountPaid,
      receipt: confirmed.receipt ?? callback.receipt,
    };
  }

  /**
   * The gateway reports another amount than the payment's. From an unsigned callback the amount is
   * only the caller's word (a forgery must not trigger a reversal): flag it for support, refund
   * nothing. A signed gateway's amount is refunded, never more than the payment's total.
   */
  private async amountMismatch(amountPaid: number): Promise<PaymentReport> {
    const { label, total } = this;
    const failureReason = `amount mismatch: ${label} reports ${amountPaid}, expected ${total}`;
    if (this.unsigned && patched('amount-mismatch-flags-support')) {
      return this.finish('failed', {
        failureReason: `${failureReason}; not refunded automatically — support: check the ${label} statement and refund by hand if money was taken`,
        needsSupport: true,
      });
    }
    const rest = amountPaid > total ? `; support: refund the remaining ${amountPaid - total} by hand` : '';
    return this.finish('failed', { failureReason: failureReason + rest, refundAmount: amountPaid });
  }

  private async expire(): Promise<PaymentReport> {
    const { label } = this;
    const waited = Math.round(this.input.timing.expireAfterMs / 1000);
    // The push's answer was lost and no confirmed callback came: nothing to cancel or ask about.
    if (!this.report.reference) {
      return this.finish('failed', {
        failureReason: `no answer from ${label} in ${waited} s; a payment prompt may have reached the phone: check the phone's ${label} messages before charging again`,
      });
    }
    if ((await this.cancelAtGateway()) === 'succeeded') return this.finish('succeeded', {});
    // A QR code gets no answer by design until someone pays: it expired.
    return this.finish('failed', {
      failureReason:
        this.input.gateway === 'qr' ? `expired: not paid within ${waited} s` : `no answer from ${label} in ${waited} s`,
    });
  }

  private async cancelAtGateway(): Promise<GatewayEvent['status']> {
    const after = await gateway.cancelAtGateway({
      gateway: this.input.gateway,
      reference: this.report.reference!,
      idempotencyKey: this.idempotencyKey,
    });
    this.lastGatewayStatus = after.status;
    return after.status;
  }

  /** The customer switched method: cancel at the gateway; a success that slips through is refunded. */
  private async cancel(): Promise<PaymentReport> {
    // The push's answer was lost: nothing to cancel at the gateway; a success that still comes is refunded.
    if (!this.report.reference)
      return this.finish('cancelled', {
        failureReason: `cancelled before ${this.label} answered; a late success on the phone is refunded automatically`,
      });
    if ((await this.cancelAtGateway()) !== 'succeeded') return this.finish('cancelled', { failureReason: 'cancelled' });
    const refundProblem = await this.refund('succeeded after it was cancelled');
    if (refundProblem === REVERSAL_PENDING)
      return this.finish('cancelled', { failureReason: `succeeded after cancel; ${this.waitNote}` });
    return refundProblem
      ? this.finish('succeeded', { failureReason: `succeeded after cancel; ${refundProblem}` })
      : this.finish('cancelled', {
          autoRefunded: true,
          failureReason: 'succeeded after cancel; refunded automatically',
        });
  }

  private async resolveByManager(r: msg.ResolveRequest): Promise<PaymentReport> {
    return this.finish(r.outcome, {
      failureReason: r.outcome === 'failed' ? `resolved by manager: ${r.reason}` : undefined,
      resolvedBy: r,
    });
  }

  /**
   * Returns why the refund failed (staff must refund by hand), REVERSAL_PENDING when the gateway
   * accepted it and answers later (awaitReversal waits for that), or undefined when the gateway took it.
   */
  private async refund(reason: string, amount = this.total): Promise<string | undefined> {
    this.refunded = true; // one automatic refund per payment, whatever it was for
    const { input } = this;
    // Never more than this payment took, whatever a gateway event claimed.
    const capped = Math.min(amount, this.total);
    const req = {
      gateway: input.gateway,
      reference: this.report.reference!,
      receipt: this.receipt,
      idempotencyKey: `auto-refund-${this.workflowId}`,
      amount: capped,
      currency: input.currency,
      reason,
    };
    const failed = (r: { status: string; failureReason?: string }) =>
      r.status === 'failed'
        ? `automatic refund failed (${r.failureReason ?? 'no reason given'}): refund by hand`
        : undefined;
    if (!patched(AWAIT_REVERSAL)) return failed(await gateway.refundAtGateway(req));
    const r = await gateway.reverseAtGateway({
      ...req,
      paymentId: input.paymentId,
      resultUrlBase: `${input.publicBaseUrl}${MPESA_RESULT_PATH}`,
    });
    if (r.status === 'pending') {
      this.reversal = { reference: r.reference, statusReference: r.statusReference, resultUrl: r.resultUrl };
      return REVERSAL_PENDING;
    }
    return failed(r);
  }

  /**
   * Waits for the result of the automatic reversal: a result at the payment's ResultURL, else a
   * status request (M-Pesa Transaction Status, answered at the same URL) with a widening gap,
   * never giving up — until a result says how it ended the money may still move. Then the payment
   * (and the order, when it was refunded) learns of it.
   */
  private async awaitReversal(): Promise<void> {
    const { report, label, input } = this;
    const sent = this.reversal!;
    const since = clock(Date.now());
    const final = () => this.reversalEvents.find((e) => e.status !== 'pending');
    let wait = input.timing.callbackWaitMs;
    const maxGap = Math.max(input.timing.pollMaxMs, Math.floor(input.timing.lateWindowMs / 24));
    setCurrentDetails(
      `${report.status}; waiting for ${label} reversal result since ${since} UTC · ${formatMoney(this.total, input.currency)}`,
    );
    while (!(await condition(() => final() !== undefined, Math.max(1, wait)))) {
      try {
        const s = await statusProxy.reversalStatus({ gateway: input.gateway, ...sent });
        if (s.status !== 'pending') this.reversalEvents.push({ status: s.status, failureReason: s.failureReason });
        else
          setCurrentDetails(
            `${report.status}; no ${label} reversal result since ${since} UTC: status asked at ${clock(Date.now())} UTC`,
          );
      } catch (err) {
        setCurrentDetails(
          `${report.status}; no ${label} reversal result since ${since} UTC; status request failed: ${causeOf(err)}`,
        );
      }
      wait = Math.min(wait * 2, maxGap);
    }
    const e = final()!;
    report.autoRefunded = e.status === 'succeeded';
    const outcome = report.autoRefunded
      ? 'refunded automatically'
      : `automatic refund failed (${e.failureReason ?? 'no reason given'}): refund by hand`;
    report.failureReason = (report.failureReason ?? report.status).replace(this.waitNote, outcome);
    await this.settleAgain();
    setCurrentDetails(`${report.status}: ${report.failureReason}`);
  }

  /** Stores what changed after the payment had settled (a refund's outcome) and tells the order. */
  private async settleAgain(): Promise<void> {
    await settlePayment({
      paymentId: this.input.paymentId,
      status: this.report.status,
      reference: this.report.reference,
      receipt: this.receipt,
      failureReason: this.report.failureReason,
    });
    await this.tellOrder();
  }

  /**
   * Money that moved although it must not stay (an amount mismatch, a success while the customer
   * was switching tender) goes back first; then the outcome is stored, reported, and watched.
   */
  private async finish(status: Outcome, extra: FinishExtra): Promise<PaymentReport> {
    [status, extra] = await this.refundWhatMustGoBack(status, extra);
    await settlePayment({
      paymentId: this.input.paymentId,
      status,
      reference: this.report.reference,
      receipt: this.receipt,
      failureReason: extra.failureReason,
      ...(extra.resolvedBy
        ? {
            resolvedBy: {
              staffId: extra.resolvedBy.staffId,
              reason: extra.resolvedBy.reason,
              locationId: this.input.locationId,
              outcome: extra.resolvedBy.outcome,
            },
          }
        : {}),
    });
    await this.publish({
      status,
      failureReason: extra.failureReason,
      autoRefunded: extra.autoRefunded,
      settledAt: new Date().toISOString(),
    });
    setCurrentDetails(`${status}${extra.failureReason ? `: ${extra.failureReason}` : ''}`);
    if (this.reversal) {
      await this.awaitReversal();
      return this.report;
    }
    // A payment flagged for support is theirs to settle: no automatic refund follows.
    if (status !== 'succeeded' && !extra.autoRefunded && !this.refunded && !extra.needsSupport)
      await this.watchForLateSuccess();
    return this.report;
  }

  private async refundWhatMustGoBack(status: Outcome, extra: FinishExtra): Promise<[Outcome, FinishExtra]> {
    const { waitNote } = this;
    if (extra.refundAmount) {
      const refundProblem = await this.refund('amount mismatch', extra.refundAmount);
      if (refundProblem === REVERSAL_PENDING)
        extra = { ...extra, failureReason: `${extra.failureReason}; ${waitNote}` };
      else if (refundProblem) extra = { ...extra, failureReason: `${extra.failureReason}; ${refundProblem}` };
    }
    // A cancel that arrived while the gateway was finishing (initiate, a status query): the
    // customer switched to another tender, so money that moved anyway goes back.
    if (status !== 'succeeded' || !this.cancelRequested || extra.resolvedBy) return [status, extra];
    const refundProblem = await this.refund('succeeded while it was being cancelled');
    if (refundProblem === REVERSAL_PENDING)
      return ['cancelled', { ...extra, failureReason: `succeeded while being cancelled; ${waitNote}` }];
    if (refundProblem)
      return [status, { ...extra, failureReason: `succeeded while being cancelled; ${refundProblem}` }];
    return [
      'cancelled',
      { ...extra, autoRefunded: true, failureReason: 'succeeded while being cancelled; refunded automatically' },
    ];
  }

  /**
   * A payment that failed, expired or was cancelled may still succeed at the gateway (a customer
   * confirming on the phone after the timeout). Keep listening for a while and refund it.
   */
  private async watchForLateSuccess(): Promise<void> {
    const { timing } = this.input;
    const until = Date.now() + timing.lateWindowMs;
    // Without a final word from the gateway (it could not cancel, or never answered), ask it now
    // and then with a widening gap (a few dozen queries over the window); otherwise only listen.
    let pollDelay = timing.pollInitialMs;
    const maxGap = Math.max(timing.pollMaxMs, Math.floor(timing.lateWindowMs / 20));
    while (Date.now() < until) {
      const pollable = this.lastGatewayStatus === 'pending';
      const remaining = until - Date.now();
      const arrived = await condition(
        () => this.events.length > 0,
        Math.max(1, pollable ? Math.min(pollDelay, remaining) : remaining),
      );
      if (!arrived && !pollable) return;
      let e = arrived ? this.events.shift()! : await this.confirm();
      if (!this.screen(e)) continue;
      if (arrived && this.unsigned && e.status === 'succeeded') e = await this.confirmCallback(e);
      if (e.status === 'succeeded') return this.refundLateSuccess();
      pollDelay = Math.min(pollDelay * 2, maxGap);
    }
  }

  private async refundLateSuccess(): Promise<void> {
    const { report } = this;
    const refundProblem = await this.refund('succeeded after the payment had ended');
    const pending = refundProblem === REVERSAL_PENDING;
    report.autoRefunded = !refundProblem;
    report.failureReason = `${report.failureReason ?? report.status}; a late success ${pending ? `arrived; ${this.waitNote}` : refundProblem ? `arrived and the ${refundProblem}` : 'was refunded automatically'}`;
    await this.settleAgain();
    if (pending) await this.awaitReversal();
  }
}
