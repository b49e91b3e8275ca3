/**
 * One `refund` workflow per refund (id `refund-<refundId>`), started by POST …/refunds once the
 * amount is reserved on its payment. Cash is recorded at once (drawer out); a gateway refund is
 * sent exactly once through the adapter the payment came from (idempotency key = the workflow id)
 * and, when the gateway finishes later (Square PENDING), awaited durably: a verified gateway event
 * (signal), else status queries with backoff, until it succeeds, fails, or the wait runs out.
 * An M-Pesa reversal is answered only at its ResultURL: it waits for that result, asking for a
 * Transaction Status (answered at the same URL) when none comes, and never gives up.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { SA } from '../core/search-attributes';
import { formatMoney } from '../core/format';
import { workflowIds } from '../core/events';
import { GATEWAY_FAILURE_TYPES, WORKFLOW_NOT_RUNNING } from '../core/failures';
import { refundSettledSignal } from '../core/messages';
import {
  refundGatewayEventSignal,
  refundProgressQuery,
  refundRecordedSignal,
  type RefundObject,
  refundSentUpdate,
  type RefundProgress,
  type RefundStatus,
  type RefundWorkflowInput,
} from '../core/refund';
import type { RefundActivities } from '../activities/refunds';

const { settleRefund, markRefundPending, recordRefundOnOrder } = proxyActivities<RefundActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '10 seconds' },
});
// Gateway calls: an outage is retried with backoff (the idempotency key makes that safe); a
// refusal is a result, not an error.
const gateway = proxyActivities<RefundActivities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [GATEWAY_FAILURE_TYPES.notConfigured],
  },
});

const LABEL: Record<string, string> = {
  square: 'Square',
  stripe: 'Stripe',
  qr: 'QR (Stripe)',
  mpesa: 'M-Pesa',
  airtel: 'Airtel Money',
};

/** Gateways that can be asked where a refund stands (the others report by callback only). */
const POLLED: string[] = ['square', 'stripe', 'qr'];

/**
 * Runs of this code tell a running checkout by signal (it numbers the order's versions) and write
 * to Postgres only once the checkout has ended; older runs wrote every change to Postgres.
 */
const TELL_CHECKOUT = 'refund-tells-running-checkout';
/** How long a refund waits for the running checkout to confirm it published the change. */
const RECORDED_WAIT = '1 minute';
const SIGNAL_RETRY = '30 seconds';
/** Runs of this code poll Airtel's transaction enquiry for a refund in progress; older ones waited for a signal no route sent. */
const AIRTEL_ENQUIRY = 'airtel-refund-enquiry';
/** Runs of this code ask M-Pesa for a reversal's Transaction Status when its result does not come. */
const STATUS_QUERY = 'mpesa-reversal-status-query';
// A status request is itself answered at the ResultURL: one that fails is tried again later, never
// allowed to hold up the wait for a result that may be arriving.
const statusRequest = proxyActivities<RefundActivities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

const hhmm = (ms: number) => `${new Date(ms).toISOString().slice(11, 16)} UTC`;

export async function refund(input: RefundWorkflowInput): Promise<RefundProgress> {
  return new RefundRun(input).run();
}

type Final = Exclude<RefundStatus, 'pending'>;
/** An activity failure's own message (the ActivityFailure wrapping it says only that the activity failed). */
const causeOf = (err: unknown) => (err as ApplicationFailure).cause?.message ?? (err as Error).message;

/** One refund's state and steps: send it, wait for the gateway's word when it answers later, settle. */
class RefundRun {
  private readonly progress: RefundProgress = { phase: 'sending', status: 'pending' };
  private readonly events: { status: RefundStatus; failureReason?: string }[] = [];
  private readonly seen = new Set<string>();
  private readonly recorded = new Set<RefundStatus>();
  private readonly label: string;
  private readonly money: string;
  /** The id to ask the refund's status by, when the gateway gave one besides its reference. */
  private statusReference: string | undefined;

  constructor(private readonly input: RefundWorkflowInput) {
    this.label = input.gateway ? (LABEL[input.gateway] ?? input.gateway) : 'cash';
    this.money = formatMoney(input.amount, input.currency);
    setHandler(refundProgressQuery, () => this.progress);
    setHandler(refundSentUpdate, async () => {
      await condition(() => this.progress.phase !== 'sending');
      return { ...this.progress };
    });
    setHandler(refundRecordedSignal, ({ status }) => void this.recorded.add(status));
    setHandler(refundGatewayEventSignal, (e) => {
      if (this.seen.has(e.eventId)) return; // duplicate delivery: no second effect
      this.seen.add(e.eventId);
      this.events.push(e);
    });
  }

  async run(): Promise<RefundProgress> {
    const { input, progress } = this;
    upsertSearchAttributes([
      { key: SA.refundStatus, value: 'pending' },
      { key: SA.locationId, value: input.locationId },
      { key: SA.paymentMethod, value: [input.method] },
      ...(input.orderNumber !== null ? [{ key: SA.orderNumber, value: input.orderNumber }] : []),
    ]);

    if (!input.gateway) return this.settle('succeeded', {}); // cash: handed back from the drawer, recorded at once

    setCurrentDetails(`sending ${this.label} refund of ${this.money} since ${hhmm(Date.now())}`);
    const sent = await gateway.sendRefund({
      refundId: input.refundId,
      gateway: input.gateway,
      reference: input.reference ?? '',
      receipt: input.receipt,
      idempotencyKey: workflowInfo().workflowId,
      amount: input.amount,
      currency: input.currency,
      reason: input.reason,
      resultUrl: input.resultUrl,
    });
    progress.reference = sent.reference || undefined;
    this.statusReference = sent.statusReference;
    if (sent.status !== 'pending') return this.settle(sent.status, { failureReason: sent.failureReason });

    if (patched(TELL_CHECKOUT))
      await this.tellOrder(
        await markRefundPending({ refundId: input.refundId, reference: progress.reference, tellOrder: false }),
      );
    else await markRefundPending({ refundId: input.refundId, reference: progress.reference });
    progress.phase = 'waiting'; // after the reference is stored: the 202 answer carries it
    return this.settle(...(await this.awaitOutcome()));
  }

  private finalEvent() {
    return this.events.find((e) => e.status !== 'pending');
  }

  /** Waits for the gateway's word: a signal, else status queries with backoff, until the late window ends. */
  private async awaitOutcome(): Promise<[Final, { failureReason?: string }]> {
    const { input, label, money } = this;
    const startedAt = Date.now();
    const polled = POLLED.includes(input.gateway!) || (input.gateway === 'airtel' && patched(AIRTEL_ENQUIRY));
    if (!polled) {
      // M-Pesa answers a reversal only at its ResultURL: nothing to ask, and giving up would free
      // the reserved amount while the money may still move. Stay pending until a result arrives.
      setCurrentDetails(`waiting for ${label} reversal result since ${hhmm(startedAt)} · ${money}`);
      if (patched(STATUS_QUERY)) await this.awaitResultAskingStatus(startedAt);
      else await condition(() => this.finalEvent() !== undefined);
      const e = this.finalEvent()!;
      return [e.status as Final, { failureReason: e.failureReason }];
    }
    setCurrentDetails(`waiting for ${label} refund since ${hhmm(startedAt)} · ${money}`);
    const e = await this.pollUntil(startedAt + Math.max(input.timing.expireAfterMs, input.timing.lateWindowMs));
    if (e) return [e.status as Final, { failureReason: e.failureReason }];
    // No final word: the money may still move, so staff must check before refunding again.
    return [
      'failed',
      {
        failureReason: `no final answer from ${label} since ${hhmm(startedAt)}: check the refund at the gateway before refunding again`,
      },
    ];
  }

  /** The first final word (a signal, else a status query with backoff) before giveUpAt, if any. */
  private async pollUntil(giveUpAt: number): Promise<{ status: RefundStatus; failureReason?: string } | undefined> {
    const { input, progress } = this;
    let delay = input.timing.pollInitialMs;
    while (Date.now() < giveUpAt) {
      await condition(() => this.events.length > 0, Math.max(1, Math.min(delay, giveUpAt - Date.now())));
      const e =
        this.events.shift() ??
        (progress.reference
          ? await gateway.refundStatus({
              gateway: input.gateway!,
              reference: this.statusReference ?? progress.reference,
            })
          : undefined);
      if (e && e.status !== 'pending') return e;
      delay = Math.min(delay * 2, input.timing.pollMaxMs);
    }
    return undefined;
  }

  /**
   * Waits for a final result; when none has come after the callback wait, asks for the reversal's
   * Transaction Status (answered at the same ResultURL), again with a widening gap, never giving
   * up: until a result says how it ended, the money may still move.
   */
  private async awaitResultAskingStatus(startedAt: number): Promise<void> {
    const { input, progress, label, money } = this;
    let wait = input.timing.callbackWaitMs;
    const maxGap = Math.max(input.timing.pollMaxMs, Math.floor(input.timing.lateWindowMs / 24));
    while (!(await condition(() => this.finalEvent() !== undefined, Math.max(1, wait)))) {
      if (input.resultUrl && progress.reference) {
        try {
          await statusRequest.requestRefundStatus({
            gateway: input.gateway!,
            reference: progress.reference,
            statusReference: this.statusReference,
            resultUrl: input.resultUrl,
          });
          setCurrentDetails(
            `no ${label} reversal result since ${hhmm(startedAt)}: Transaction Status asked at ${hhmm(Date.now())} · ${money}`,
          );
        } catch (err) {
          setCurrentDetails(
            `no ${label} reversal result since ${hhmm(startedAt)}; Transaction Status request failed: ${causeOf(err)}`,
          );
        }
      }
      wait = Math.min(wait * 2, maxGap);
    }
  }

  private async settle(status: Final, extra: { failureReason?: string }): Promise<RefundProgress> {
    const { input, progress } = this;
    const req = { refundId: input.refundId, status, reference: progress.reference, failureReason: extra.failureReason };
    if (patched(TELL_CHECKOUT)) await this.tellOrder(await settleRefund({ ...req, tellOrder: false }));
    else await settleRefund(req);
    Object.assign(progress, { phase: 'done', status, failureReason: extra.failureReason });
    upsertSearchAttributes([{ key: SA.refundStatus, value: status }]);
    setCurrentDetails(
      `${this.label} refund of ${this.money} ${status}${extra.failureReason ? `: ${extra.failureReason}` : ''}`,
    );
    // The API's refundSent Update answers from this run: let it finish before the run completes.
    await condition(allHandlersFinished);
    return { ...progress };
  }

  /**
   * Puts the refund's change on its order at the order's next version. While the order's checkout
   * runs, it is the only allocator: it gets a signal and records the refund itself, and this waits
   * (bounded) for its word that the change is published, so the API's answer reads it back. Once
   * the checkout has ended (the signal finds no workflow), Postgres allocates the version.
   */
  private async tellOrder(refund: RefundObject | undefined): Promise<void> {
    if (!refund) return;
    for (;;) {
      try {
        await getExternalWorkflowHandle(workflowIds.order(refund.orderId)).signal(refundSettledSignal, refund);
        break;
      } catch (err) {
        if (err instanceof ApplicationFailure && err.type === WORKFLOW_NOT_RUNNING)
          return recordRefundOnOrder({ refundId: refund.id, status: refund.status });
        // Refused otherwise (e.g. the per-workflow signal limit): the checkout still runs, so writing
        // through Postgres would collide with its versions. Try again later.
        setCurrentDetails(
          `waiting to record the refund on order ${refund.orderId}: ${err instanceof Error ? err.message : String(err)}`,
        );
        await sleep(SIGNAL_RETRY);
      }
    }
    await condition(() => this.recorded.has(refund.status), RECORDED_WAIT);
  }
}
