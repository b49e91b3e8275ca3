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
  const { workflowId } = workflowInfo();
  const idempotencyKey = workflowId;
  const total = input.amount + input.tip + input.fee;
  const label = GATEWAY_LABEL[input.gateway] ?? input.gateway;
  const unsigned = UNSIGNED_GATEWAYS.includes(input.gateway);
  const parent = getExternalWorkflowHandle(input.parentWorkflowId);
  const report: PaymentReport = { id: input.paymentId, status: 'pending' };
  const events: GatewayEvent[] = [];
  const seenEvents = new Set<string>();
  let cancelRequested = false;
  let resolution: msg.ResolveRequest | undefined;
  /** The gateway's receipt (M-Pesa receipt number): what a reversal needs. */
  let receipt: string | undefined;
  /** The receipt of an unsigned success callback a query has not yet confirmed (kept once one does, dropped if one contradicts it). */
  let unconfirmedReceipt: string | undefined;
  /** What the gateway itself last said; 'pending' means the money may still move. */
  let lastGatewayStatus: GatewayEvent['status'] = 'pending';
  let refunded = false;
  /** An automatic reversal sent and not yet answered (where to ask, and its answers so far). */
  let reversal: { reference: string; statusReference?: string; resultUrl: string } | undefined;
  const reversalEvents: { status: RefundStatus; failureReason?: string }[] = [];
  const waitNote = `automatic reversal sent, waiting for ${label}'s result`;

  setHandler(msg.paymentStateQuery, () => report);
  setHandler(msg.gatewayEventSignal, (e) => {
    // Another gateway's word never moves this payment (an Airtel callback naming a card payment's workflow id).
    if (!eventIsFor(e, input.gateway)) return;
    if (seenEvents.has(e.eventId)) return; // duplicate delivery: no second effect
    seenEvents.add(e.eventId);
    events.push(e);
  });
  setHandler(msg.cancelPaymentSignal, () => {
    cancelRequested = true;
  });
  setHandler(msg.resolvePaymentSignal, (r) => {
    resolution = r;
  });
  setHandler(reversalResultSignal, (e) => {
    if (seenEvents.has(e.eventId)) return; // duplicate delivery: no second effect
    seenEvents.add(e.eventId);
    reversalEvents.push(e);
  });

  async function publish(changes: Partial<PaymentReport>): Promise<void> {
    Object.assign(report, changes);
    upsertSearchAttributes([{ key: SA.paymentStatus, value: report.status }]);
    await tellOrder();
  }

  /** The order may have finished already (paid in cash after a cancel): the report then has no reader. */
  async function tellOrder(): Promise<void> {
    try {
      await parent.signal(msg.paymentUpdatedSignal, { ...report });
    } catch {
      setCurrentDetails(`order ${input.orderId} has ended; payment ${report.status}`);
    }
  }

  upsertSearchAttributes([
    { key: SA.paymentStatus, value: 'pending' },
    { key: SA.paymentMethod, value: [input.method] },
    { key: SA.locationId, value: input.locationId },
    { key: SA.orderTotal, value: total },
    ...(input.orderNumber !== null ? [{ key: SA.orderNumber, value: input.orderNumber }] : []),
  ]);
  setCurrentDetails(`initiating ${label} payment of ${formatMoney(total, input.currency)}`);

  // A gateway that stays down does not hold the payment forever: initiate gives up at expiry.
  const initiateWithin = proxyActivities<PaymentActivities>({
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: Math.max(input.timing.expireAfterMs, 30_000),
    retry: {
      initialInterval: '1 second',
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: [GATEWAY_FAILURE_TYPES.notConfigured, GATEWAY_FAILURE_TYPES.rejected],
    },
  });

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
    workflowId,
  });

  let initiated;
  try {
    initiated = await initiateWithin.initiatePayment({
      gateway: input.gateway,
      request: {
        paymentId: input.paymentId,
        orderId: input.orderId,
        orderNumber: input.orderNumber,
        idempotencyKey,
        total,
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
  } catch (err) {
    return finish('failed', {
      failureReason: `could not reach ${label}: ${(err as ApplicationFailure).cause?.message ?? (err as Error).message}`,
    });
  }
  const initiatedReport = {
    reference: initiated.reference,
    action: initiated.action,
    sandbox: initiated.sandbox,
    failureReason: initiated.failureReason,
  };
  lastGatewayStatus = initiated.status;
  // Settled by the initiating call (a confirmed card, a decline): report it once, with its outcome,
  // so the order's addPayment answers 201 with the result instead of 202 pending.
  if (initiated.status !== 'pending') {
    Object.assign(report, initiatedReport);
    return finish(initiated.status, { failureReason: initiated.failureReason });
  }
  await publish(initiatedReport);

  const startedAt = Date.now();
  let pollDelay = input.timing.pollInitialMs;
  let waited = false;
  for (;;) {
    setCurrentDetails(
      `waiting for ${label} ${waited ? 'status' : 'callback'} since ${new Date(startedAt).toISOString().slice(11, 19)} UTC · ${formatMoney(total, input.currency)}`,
    );
    const remaining = input.timing.expireAfterMs - (Date.now() - startedAt);
    const wait = waited ? Math.min(pollDelay, remaining) : Math.min(input.timing.callbackWaitMs, remaining);
    await condition(() => events.length > 0 || cancelRequested || resolution !== undefined, Math.max(wait, 1));

    if (resolution) return resolveByManager(resolution);
    if (cancelRequested) return cancel();

    let outcome = events.shift();
    // An unsigned callback about another charge than the one initiate stored is not this payment's word.
    if (outcome && unsigned && isForeignCharge(outcome) && patched('ignore-callback-for-another-charge')) continue;
    if (outcome?.reference && !report.reference && !(unsigned && patched('adopt-reference-once-confirmed')))
      report.reference = outcome.reference;
    if (outcome && unsigned && outcome.status !== 'pending') {
      outcome = await confirmCallback(outcome); // unsigned callback: ask the gateway before money counts
    }
    if (!outcome) {
      waited = true;
      if (Date.now() - startedAt >= input.timing.expireAfterMs) return expire();
      outcome = await confirm();
      pollDelay = Math.min(pollDelay * 2, input.timing.pollMaxMs);
    }
    lastGatewayStatus = outcome.status;
    if (outcome.status === 'pending') continue;
    if (outcome.receipt) receipt = outcome.receipt;
    if (outcome.status === 'succeeded' && outcome.amountPaid !== undefined && outcome.amountPaid !== total)
      return amountMismatch(outcome.amountPaid);
    return finish(outcome.status, { failureReason: outcome.failureReason });
  }

  /** A callback naming a charge other than the stored one (none stored yet: it may be ours, the query decides). */
  function isForeignCharge(e: GatewayEvent): boolean {
    return (
      e.reference !== undefined &&
      report.reference !== undefined &&
      report.reference !== '' &&
      e.reference !== report.reference
    );
  }

  /** The gateway's answer to a status query; a gateway that refuses to answer counts as still pending. */
  async function confirm(reference = report.reference): Promise<GatewayEvent> {
    if (!reference) return { eventId: `status-${Date.now()}`, status: 'pending' };
    try {
      const s = await gateway.paymentStatus({
        gateway: input.gateway,
        reference,
        idempotencyKey,
        total,
        currency: input.currency,
      });
      if (s.status === 'succeeded') receipt = s.receipt ?? receipt ?? unconfirmedReceipt;
      if (s.status !== 'pending') unconfirmedReceipt = undefined;
      lastGatewayStatus = s.status;
      return {
        eventId: `status-${Date.now()}`,
        status: s.status,
        amountPaid: s.amountPaid,
        failureReason: s.failureReason,
        receipt: s.receipt,
      };
    } catch (err) {
      setCurrentDetails(
        `${label} status query refused: ${(err as ApplicationFailure).cause?.message ?? (err as Error).message}`,
      );
      return { eventId: `status-${Date.now()}`, status: 'pending' };
    }
  }

  /**
   * An unsigned callback counts once the gateway confirms its status; only then are its amount and
   * receipt kept (a reversal names that receipt). Without a stored reference (initiate's answer was
   * lost), the callback's own reference is queried and adopted only when the query confirms it.
   */
  async function confirmCallback(callback: GatewayEvent): Promise<GatewayEvent> {
    const adopting = !report.reference && callback.reference !== undefined;
    if (!adopting && callback.status === 'succeeded' && callback.receipt) unconfirmedReceipt = callback.receipt;
    const confirmed = await confirm(report.reference || callback.reference);
    if (confirmed.status !== callback.status) return adopting ? { ...confirmed, status: 'pending' } : confirmed;
    if (adopting) report.reference = callback.reference;
    if (callback.status === 'succeeded' && callback.receipt) receipt = confirmed.receipt ?? callback.receipt;
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
  async function amountMismatch(amountPaid: number): Promise<PaymentReport> {
    const failureReason = `amount mismatch: ${label} reports ${amountPaid}, expected ${total}`;
    if (unsigned && patched('amount-mismatch-flags-support')) {
      return finish('failed', {
        failureReason: `${failureReason}; not refunded automatically — support: check the ${label} statement and refund by hand if money was taken`,
        needsSupport: true,
      });
    }
    const rest = amountPaid > total ? `; support: refund the remaining ${amountPaid - total} by hand` : '';
    return finish('failed', { failureReason: failureReason + rest, refundAmount: amountPaid });
  }

  async function expire(): Promise<PaymentReport> {
    const waited = Math.round(input.timing.expireAfterMs / 1000);
    // The push's answer was lost and no confirmed callback came: nothing to cancel or ask about.
    if (!report.reference) {
      return finish('failed', {
        failureReason: `no answer from ${label} in ${waited} s; a payment prompt may have reached the phone: check the phone's ${label} messages before charging again`,
      });
    }
    const after = await gateway.cancelAtGateway({
      gateway: input.gateway,
      reference: report.reference,
      idempotencyKey,
    });
    lastGatewayStatus = after.status;
    if (after.status === 'succeeded') return finish('succeeded', {});
    // A QR code gets no answer by design until someone pays: it expired.
    return finish('failed', {
      failureReason:
        input.gateway === 'qr' ? `expired: not paid within ${waited} s` : `no answer from ${label} in ${waited} s`,
    });
  }

  /** The customer switched method: cancel at the gateway; a success that slips through is refunded. */
  async function cancel(): Promise<PaymentReport> {
    // The push's answer was lost: nothing to cancel at the gateway; a success that still comes is refunded.
    if (!report.reference)
      return finish('cancelled', {
        failureReason: `cancelled before ${label} answered; a late success on the phone is refunded automatically`,
      });
    const after = await gateway.cancelAtGateway({
      gateway: input.gateway,
      reference: report.reference!,
      idempotencyKey,
    });
    lastGatewayStatus = after.status;
    if (after.status === 'succeeded') {
      const refundProblem = await refund('succeeded after it was cancelled');
      if (refundProblem === REVERSAL_PENDING)
        return finish('cancelled', { failureReason: `succeeded after cancel; ${waitNote}` });
      return refundProblem
        ? finish('succeeded', { failureReason: `succeeded after cancel; ${refundProblem}` })
        : finish('cancelled', { autoRefunded: true, failureReason: 'succeeded after cancel; refunded automatically' });
    }
    return finish('cancelled', { failureReason: 'cancelled' });
  }

  async function resolveByManager(r: msg.ResolveRequest): Promise<PaymentReport> {
    return finish(r.outcome, {
      failureReason: r.outcome === 'failed' ? `resolved by manager: ${r.reason}` : undefined,
      resolvedBy: r,
    });
  }

  /**
   * Returns why the refund failed (staff must refund by hand), REVERSAL_PENDING when the gateway
   * accepted it and answers later (awaitReversal waits for that), or undefined when the gateway took it.
   */
  async function refund(reason: string, amount = total): Promise<string | undefined> {
    refunded = true; // one automatic refund per payment, whatever it was for
    // Never more than this payment took, whatever a gateway event claimed.
    const capped = Math.min(amount, total);
    const req = {
      gateway: input.gateway,
      reference: report.reference!,
      receipt,
      idempotencyKey: `auto-refund-${workflowId}`,
      amount: capped,
      currency: input.currency,
      reason,
    };
    if (!patched(AWAIT_REVERSAL)) {
      const r = await gateway.refundAtGateway(req);
      return r.status === 'failed'
        ? `automatic refund failed (${r.failureReason ?? 'no reason given'}): refund by hand`
        : undefined;
    }
    const r = await gateway.reverseAtGateway({
      ...req,
      paymentId: input.paymentId,
      resultUrlBase: `${input.publicBaseUrl}${MPESA_RESULT_PATH}`,
    });
    if (r.status === 'pending') {
      reversal = { reference: r.reference, statusReference: r.statusReference, resultUrl: r.resultUrl };
      return REVERSAL_PENDING;
    }
    return r.status === 'failed'
      ? `automatic refund failed (${r.failureReason ?? 'no reason given'}): refund by hand`
      : undefined;
  }

  /**
   * Waits for the result of the automatic reversal: a result at the payment's ResultURL, else a
   * status request (M-Pesa Transaction Status, answered at the same URL) with a widening gap,
   * never giving up — until a result says how it ended the money may still move. Then the payment
   * (and the order, when it was refunded) learns of it.
   */
  async function awaitReversal(): Promise<void> {
    const sent = reversal!;
    const since = new Date(Date.now()).toISOString().slice(11, 19);
    const final = () => reversalEvents.find((e) => e.status !== 'pending');
    let wait = input.timing.callbackWaitMs;
    const maxGap = Math.max(input.timing.pollMaxMs, Math.floor(input.timing.lateWindowMs / 24));
    setCurrentDetails(
      `${report.status}; waiting for ${label} reversal result since ${since} UTC · ${formatMoney(total, input.currency)}`,
    );
    while (!(await condition(() => final() !== undefined, Math.max(1, wait)))) {
      try {
        const s = await statusProxy.reversalStatus({ gateway: input.gateway, ...sent });
        if (s.status !== 'pending') reversalEvents.push({ status: s.status, failureReason: s.failureReason });
        else
          setCurrentDetails(
            `${report.status}; no ${label} reversal result since ${since} UTC: status asked at ${new Date(Date.now()).toISOString().slice(11, 19)} UTC`,
          );
      } catch (err) {
        setCurrentDetails(
          `${report.status}; no ${label} reversal result since ${since} UTC; status request failed: ${(err as ApplicationFailure).cause?.message ?? (err as Error).message}`,
        );
      }
      wait = Math.min(wait * 2, maxGap);
    }
    const e = final()!;
    report.autoRefunded = e.status === 'succeeded';
    const outcome = report.autoRefunded
      ? 'refunded automatically'
      : `automatic refund failed (${e.failureReason ?? 'no reason given'}): refund by hand`;
    report.failureReason = (report.failureReason ?? report.status).replace(waitNote, outcome);
    await settlePayment({
      paymentId: input.paymentId,
      status: report.status,
      reference: report.reference,
      receipt,
      failureReason: report.failureReason,
    });
    await tellOrder();
    setCurrentDetails(`${report.status}: ${report.failureReason}`);
  }

  async function finish(
    status: PaymentReport['status'],
    extra: {
      failureReason?: string;
      autoRefunded?: boolean;
      resolvedBy?: msg.ResolveRequest;
      refundAmount?: number;
      needsSupport?: boolean;
    },
  ): Promise<PaymentReport> {
    if (extra.refundAmount) {
      const refundProblem = await refund('amount mismatch', extra.refundAmount);
      if (refundProblem === REVERSAL_PENDING)
        extra = { ...extra, failureReason: `${extra.failureReason}; ${waitNote}` };
      else if (refundProblem) extra = { ...extra, failureReason: `${extra.failureReason}; ${refundProblem}` };
    }
    // A cancel that arrived while the gateway was finishing (initiate, a status query): the
    // customer switched to another tender, so money that moved anyway goes back.
    if (status === 'succeeded' && cancelRequested && !extra.resolvedBy) {
      const refundProblem = await refund('succeeded while it was being cancelled');
      if (refundProblem === REVERSAL_PENDING)
        [status, extra] = ['cancelled', { ...extra, failureReason: `succeeded while being cancelled; ${waitNote}` }];
      else if (refundProblem) extra = { ...extra, failureReason: `succeeded while being cancelled; ${refundProblem}` };
      else
        [status, extra] = [
          'cancelled',
          { ...extra, autoRefunded: true, failureReason: 'succeeded while being cancelled; refunded automatically' },
        ];
    }
    await settlePayment({
      paymentId: input.paymentId,
      status,
      reference: report.reference,
      receipt,
      failureReason: extra.failureReason,
      ...(extra.resolvedBy
        ? {
            resolvedBy: {
              staffId: extra.resolvedBy.staffId,
              reason: extra.resolvedBy.reason,
              locationId: input.locationId,
              outcome: extra.resolvedBy.outcome,
            },
          }
        : {}),
    });
    await publish({
      status,
      failureReason: extra.failureReason,
      autoRefunded: extra.autoRefunded,
      settledAt: new Date().toISOString(),
    });
    setCurrentDetails(`${status}${extra.failureReason ? `: ${extra.failureReason}` : ''}`);
    if (reversal) {
      await awaitReversal();
      return report;
    }
    // A payment flagged for support is theirs to settle: no automatic refund follows.
    if (status !== 'succeeded' && !extra.autoRefunded && !refunded && !extra.needsSupport) await watchForLateSuccess();
    return report;
  }

  /**
   * A payment that failed, expired or was cancelled may still succeed at the gateway (a customer
   * confirming on the phone after the timeout). Keep listening for a while and refund it.
   */
  async function watchForLateSuccess(): Promise<void> {
    const until = Date.now() + input.timing.lateWindowMs;
    // Without a final word from the gateway (it could not cancel, or never answered), ask it now
    // and then with a widening gap (a few dozen queries over the window); otherwise only listen.
    let pollDelay = input.timing.pollInitialMs;
    const maxGap = Math.max(input.timing.pollMaxMs, Math.floor(input.timing.lateWindowMs / 20));
    while (Date.now() < until) {
      const pollable = lastGatewayStatus === 'pending';
      const remaining = until - Date.now();
      const arrived = await condition(
        () => events.length > 0,
        Math.max(1, pollable ? Math.min(pollDelay, remaining) : remaining),
      );
      if (!arrived && !pollable) return;
      let e = arrived ? events.shift()! : await confirm();
      if (arrived && unsigned && isForeignCharge(e) && patched('ignore-callback-for-another-charge')) continue;
      if (e.reference && !report.reference && !(unsigned && patched('adopt-reference-once-confirmed')))
        report.reference = e.reference;
      if (arrived && unsigned && e.status === 'succeeded') e = await confirmCallback(e);
      if (e.status === 'succeeded') {
        const refundProblem = await refund('succeeded after the payment had ended');
        const pending = refundProblem === REVERSAL_PENDING;
        report.autoRefunded = !refundProblem;
        report.failureReason = `${report.failureReason ?? report.status}; a late success ${pending ? `arrived; ${waitNote}` : refundProblem ? `arrived and the ${refundProblem}` : 'was refunded automatically'}`;
        await settlePayment({
          paymentId: input.paymentId,
          status: report.status,
          reference: report.reference,
          receipt,
          failureReason: report.failureReason,
        });
        await tellOrder();
        if (pending) await awaitReversal();
        return;
      }
      pollDelay = Math.min(pollDelay * 2, maxGap);
    }
  }
}
