/**
 * One `checkout` workflow per order (id `order-<orderId>`), from its first line to its close.
 *
 * It decides; activities do the I/O. Cart mutations are Updates whose validators reject bad
 * input before it reaches history; every change bumps `version` and is queued in an outbox that
 * one publisher drains in order (so real-time clients see versions in order). Closing and
 * cancelling run their side effects (persist, stock, receipt) after the state has changed, so
 * retries never block a cashier and never apply twice (activities are idempotent).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ParentClosePolicy,
  condition,
  continueAsNew,
  allHandlersFinished,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  setCurrentDetails,
  startChild,
  currentUpdateInfo,
  getExternalWorkflowHandle,
  patched,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import * as order from '../core/order';
import type { OrderState, OrderSnapshot, PaymentState } from '../core/order';
import * as msg from '../core/messages';
import { DATA_ERROR_TYPE, Rejection } from '../core/failures';
import { guard, rejectionFailure } from './rejection';
import { OrderEvent, changeEvents, topic, workflowIds, type PublishBatch } from '../core/events';
import { orderMilestone, orderSearchAttributes } from '../core/search-attributes';
import { formatMoney } from '../core/format';
import { kitchenTicketOf, orderNumberTicketOf, receiptOf } from '../core/tickets';
import type { OrderActivities } from '../activities/orders';
import type { PrintOptions, PrintRequest } from './print-ticket';
import { printTicket } from './print-ticket';
import { payment as paymentWorkflow } from './payment';
import { gatewayOf, PaymentTiming } from '../core/payment';
import { refundRecordedSignal, refundWorkflowId, type RefundObject } from '../core/refund';
import { checkLoyaltyPayment } from '../core/loyalty';
import { settlePointsPayment } from './loyalty';
import { checkSplit, type SplitRequest } from '../core/split';
import { splitOrder } from './split';

export interface CheckoutInput {
  state: OrderState;
  /** Close out an order nobody touched for this long (no payment taken): it is cancelled. */
  abandonAfterMs: number;
  /** Continue-as-new after this many updates, well under Temporal's 2,000 per run. */
  maxUpdatesPerRun?: number;
  printSeq?: number;
  /** Idempotency-Key update ids applied in earlier runs (→ the payment they created, if any). */
  appliedKeys?: Record<string, string | null>;
  /** Print requests carried over by continue-as-new. */
  pendingPrints?: PrintRequest[];
  /** How long a paid order still waits for the kitchen's bump (default 4 h). */
  kitchenWaitMs?: number;
  /** Gateway payments (absent: cash only). */
  payments?: { publicBaseUrl: string; timing: PaymentTiming };
  /** Retry policy of the print jobs this order starts. */
  printOptions?: PrintOptions;
  /** The API that starts the order publishes its opening snapshot itself (it got the order number first). */
  openerPublishes?: boolean;
  /**
   * The API started this run at the opening version (1), published it and set the search
   * attributes as of it: a plain start, with no Update to answer (issue 10). Only a first run.
   */
  openedByApi?: boolean;
}

/**
 * How long events the API already published wait for the workflow's durable catch-up (one per
 * burst). Longer than a checkout on a busy till, so the close usually takes them along instead
 * (3 s fired in most checkouts on a starved machine); a crashed API replica's change shows this late.
 */
const CATCH_UP_AFTER_MS = 10_000;
/** A burst this long is caught up at once, so an Update's answer never carries an unbounded batch. */
const CATCH_UP_MAX_EVENTS = 50;

// Short database transactions: a worker that dies mid-activity is noticed (and the activity
// retried elsewhere) within this timeout. Publishing is a regular activity on purpose: a local
// activity would hold the workflow task, and with it every Update's response, until the events
// were written; scheduled normally, the Update answers at once and publishing follows.
const { persistOrder, publishOrderEvents } = proxyActivities<OrderActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});
// The order number is needed before the first snapshot: a local activity saves a round trip.
// Newer runs close with a local persist too: the closing Update's workflow task then also ends
// the workflow, instead of a task to schedule the persist and another to record it.
const { assignOrderNumber } = proxyLocalActivities<OrderActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});
// A local activity that keeps failing is invisible to support: it holds the workflow task (no
// current details), and it is no pending activity in the Temporal UI. So the local close gets two
// quick attempts; after that the close goes on as the regular activity, which retries in plain
// sight (stuck orders list it with its attempts and last failure).
const { persistOrder: persistOrderLocally } = proxyLocalActivities<OrderActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumAttempts: 2 },
});

export async function checkout(input: CheckoutInput): Promise<OrderSnapshot> {
  return new CheckoutRun(input).run();
}

type Caller = msg.Caller;

/**
 * One order's run: its state, the outbox of events not yet durable, the prints it owes, and the
 * handlers of its messages (samples-typescript's safe-message-handlers shape). `run` opens the
 * order, waits for its close (continuing as new when the run grows long), then closes it out.
 */
class CheckoutRun {
  private readonly state: OrderState;
  private readonly maxUpdates: number;
  private readonly outbox: OrderEvent[] = [];
  /** Events this run has emitted: the outbox holds the newest of them, in order (see Written). */
  private emitted = 0;
  private readonly prints: PrintRequest[];
  private printSeq: number;
  private updatesThisRun = 0;
  private lastActivity = Date.now();
  private publishing = false;
  /** An event nobody else publishes is waiting: publish now, not after the catch-up delay. */
  private urgent = false;
  /** Set while an Update whose caller publishes applies its change. */
  private callerPublishes = false;
  /** Set while a newer run's close hands the outbox to the persisting transaction. */
  private closing = false;
  /** A run continued-as-new right after a close or cancel still owes its side effects. */
  private closeRequested: boolean;
  /**
   * A cash payment closed the order and its answer has not gone out yet: it goes with the task
   * that ends this activation, which a local activity holds until the order is written. Runs
   * between `close-after-the-answer` and `cash-close-before-its-answer` sent it first (see persist).
   */
  private answerWaits = false;
  /** A permanent data error of an activity: support staff see it in the current details. */
  private dataProblem: string | undefined;
  /** This run starts at the opening version its API published (see queueOpening). */
  private readonly openedByApi: boolean;
  /** The milestone the search attributes were last written at (see orderMilestone). */
  private lastMilestone = '';
  /**
   * Idempotency-Key ids (`<update>:<key>`) applied in earlier runs. Temporal de-duplicates Update
   * ids within a run; these carry the promise across continue-as-new: a repeat changes nothing.
   */
  private readonly earlierKeys: Map<string, string | null>;
  /** The receipt printer opens the drawer: with the receipt when this payment closed the order and one prints, else at once. */
  private kickWithReceipt = false;
  private readonly now = () => new Date().toISOString();

  constructor(private readonly input: CheckoutInput) {
    this.state = input.state;
    this.maxUpdates = input.maxUpdatesPerRun ?? 1000;
    this.prints = [...(input.pendingPrints ?? [])];
    this.printSeq = input.printSeq ?? 0;
    this.closeRequested = this.state.status !== 'open';
    this.earlierKeys = new Map(Object.entries(input.appliedKeys ?? {}));
    // Before any handler is set: an Update that arrived with the start must find version 1 queued.
    // Workers from before this take such a start for a continued run (see open), and a new API
    // meets them during a rolling deploy: their first task replays here without the marker.
    this.openedByApi = input.openedByApi === true && patched('opened-by-api');
    if (this.openedByApi) this.queueOpening();
    setHandler(msg.snapshotQuery, () => order.toSnapshot(this.state));
    this.setOpenHandler();
    this.setCartHandlers();
    this.setKitchenHandlers();
    this.setSplitHandler();
    this.setPaymentHandlers();
    this.setSignalHandlers();
  }

  // ---- run ----------------------------------------------------------------------------------

  async run(): Promise<OrderSnapshot> {
    void this.publisher();
    await this.open();
    await this.untilClosed();
    return this.closeOut();
  }

  /**
   * The opening version's events wait in the outbox until they are durable (the API that
   * published them may have died first), and its search attributes are the start's own.
   */
  private queueOpening(): void {
    this.lastMilestone = orderMilestone(order.toSnapshot(this.state));
    this.callerPublishes = true;
    this.changed();
    this.callerPublishes = false;
  }

  private async open(): Promise<void> {
    const { state } = this;
    if (this.openedByApi) return;
    if (state.orderNumber === null) {
      state.orderNumber = await assignOrderNumber({ orderId: state.id, locationId: state.locationId });
      state.version += 1;
      this.changed();
    } else if (state.version === 0 && patched('opening-snapshot-with-api-number')) {
      // A newer API assigned the number before starting: the first snapshot needs no activity.
      // Workers from before this took such a start for a continued run (the branch below), and a
      // new API meets them during a rolling deploy: their runs replay without the marker.
      this.callerPublishes = this.input.openerPublishes === true;
      state.version += 1;
      this.changed();
      this.callerPublishes = false;
    } else {
      this.updateSearchAttributes(order.toSnapshot(state)); // a continued run
    }
  }

  /** Serves the open order until it closes or is abandoned; continues as new when the run grows long. */
  private async untilClosed(): Promise<void> {
    const { state, input } = this;
    for (;;) {
      const idleFor = input.abandonAfterMs - (Date.now() - this.lastActivity);
      const woke = await condition(
        () => this.closeRequested || this.prints.length > 0 || this.runIsLong(),
        Math.max(idleFor, 1),
      );
      await this.startPrints();
      if (this.closeRequested) return;
      if (!woke && Date.now() - this.lastActivity >= input.abandonAfterMs) {
        if (!order.hasSucceededPayment(state) && !order.hasPendingPayment(state)) {
          order.applyCancel(state, 'abandoned: no activity', this.now());
          this.changed();
          return;
        }
        this.lastActivity = Date.now(); // money was taken: keep it open for staff (it shows in stuck orders)
      }
      if (this.runIsLong()) {
        await condition(() => allHandlersFinished() && this.outbox.length === 0 && !this.publishing);
        // A close, cancel or print that arrived while we waited is handled in this run.
        if (this.closeRequested || this.prints.length > 0) continue;
        const appliedKeys = Object.fromEntries([...this.earlierKeys].slice(-500)); // the newest 500 keys
        await continueAsNew<typeof checkout>({
          ...input,
          state,
          printSeq: this.printSeq,
          pendingPrints: [],
          appliedKeys,
          openedByApi: false,
        });
      }
    }
  }

  private runIsLong(): boolean {
    return this.updatesThisRun >= this.maxUpdates || workflowInfo().continueAsNewSuggested;
  }

  /** The ended order's side effects: persisted, its receipt printed, the kitchen's bump awaited. */
  private async closeOut(): Promise<OrderSnapshot> {
    const { state } = this;
    const receiptNumber = await this.persist();
    if (order.wasSold(state) && state.settings.autoPrint.receipt) {
      // The receipt number comes from the closing transaction (older runs' answers have none).
      // Only the print's input changes, not the commands: no patch needed.
      const sold = { ...order.toSnapshot(state), ...(receiptNumber !== undefined ? { receiptNumber } : {}) };
      const receipt = receiptOf(sold, state.settings.locationName, state.settings.taxInclusive);
      const kick = this.kickWithReceipt ? { kick: true } : {};
      this.queuePrint({ role: 'receipt', job: { kind: 'receipt', receipt, ...kick } });
      await this.startPrints();
    }
    // Pay-first shops: the order is paid while the kitchen still cooks. Stay for the bump so the
    // number is still announced (and printed), but not forever.
    if (order.wasSold(state) && state.kitchenStatus === 'sent') {
      await condition(() => state.kitchenStatus === 'ready', this.input.kitchenWaitMs ?? 4 * 3600_000);
      await this.startPrints();
    }
    await condition(() => allHandlersFinished() && this.outbox.length === 0 && !this.publishing);
    return order.toSnapshot(state);
  }

  // ---- publishing -----------------------------------------------------------------------------

  private emit(event: OrderEvent['event'], topics: string[], data: unknown): void {
    this.outbox.push({ event, topics, data, version: this.state.version });
    this.emitted += 1;
    if (!this.callerPublishes || this.outbox.length >= CATCH_UP_MAX_EVENTS) this.urgent = true;
  }

  /**
   * Runs a change for a caller that publishes it (histories from before have no such caller and
   * take the old path; patched() marks the runs that do). Its answer then carries every event
   * not yet durable, older ones included, so whichever write lands first keeps versions in order.
   */
  // Typed as T for the Update definitions: the API unwraps the answer (api/order-service.ts).
  private answer<T>(caller: Caller, change: () => T): T {
    if (!caller.publishes || !patched('caller-publishes-changes')) return change();
    if (caller.written?.runId === workflowInfo().runId) this.confirmWritten(caller.written.through);
    this.callerPublishes = true;
    try {
      const answer = change();
      const batch = this.pendingBatch();
      return (caller.compact ? msg.compactAnswer(answer, batch) : { published: answer, batch }) as T;
    } finally {
      this.callerPublishes = false;
    }
  }

  private pendingBatch(): PublishBatch {
    const { state } = this;
    return {
      orderId: state.id,
      locationId: state.locationId,
      events: [...this.outbox],
      snapshot: order.toSnapshot(state),
      written: { runId: workflowInfo().runId, through: this.emitted },
    };
  }

  /**
   * The run's events up to the `through`-th are durable: they leave the outbox, so answers stop
   * repeating them and no catch-up writes them again. Said by the publisher and the close of what
   * they wrote, and by a caller of what it wrote from earlier answers (issue 10; histories from
   * before have no such callers, and the writers took the same events off by count).
   */
  private confirmWritten(through: number): void {
    const n = Math.min(through - (this.emitted - this.outbox.length), this.outbox.length);
    if (n > 0) this.outbox.splice(0, n);
  }

  /** Publishes the new snapshot to every topic that shows this order. */
  private changed(): OrderSnapshot {
    const snapshot = order.toSnapshot(this.state);
    for (const e of changeEvents(snapshot)) this.emit(e.event, e.topics, e.data);
    this.updateSearchAttributes(snapshot);
    return snapshot;
  }

  private paymentChanged(p: PaymentState): void {
    const { state } = this;
    const topics = [
      topic.order(state.id),
      topic.orders(state.locationId),
      ...(state.terminalId ? [topic.display(state.terminalId)] : []),
    ];
    this.emit('payment.updated', topics, order.publicPayment(p));
  }

  private reportDataError(err: unknown, what: string): void {
    const isDataError =
      err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === DATA_ERROR_TYPE;
    if (!isDataError) throw err;
    this.dataProblem = `${what} could not be recorded: ${err.cause!.message}`;
    setCurrentDetails(describe(order.toSnapshot(this.state), this.dataProblem));
  }

  private updateSearchAttributes(s: OrderSnapshot): void {
    setCurrentDetails(describe(s, this.dataProblem));
    const milestone = orderMilestone(s);
    if (milestone === this.lastMilestone) return;
    this.lastMilestone = milestone;
    upsertSearchAttributes(orderSearchAttributes(s));
  }

  /**
   * Publishes the outbox in order. Events stay in it until they are durable, so every answer to
   * a publishing caller repeats them until a caller says it wrote them. The rest of what such
   * callers published waits for one catch-up per burst (a crashed API replica's changes still
   * arrive), or for the close to take it along.
   */
  private async publisher(): Promise<void> {
    const { state, outbox } = this;
    for (;;) {
      await condition(() => outbox.length > 0 && !this.closing);
      if (!this.urgent) {
        await condition(() => this.urgent || this.closing, CATCH_UP_AFTER_MS);
        if (this.closing) continue; // the closing transaction takes them along
      }
      if (outbox.length === 0) continue; // their callers wrote them all meanwhile
      this.publishing = true;
      this.urgent = false;
      const batch = outbox.slice();
      const through = this.emitted;
      // Retrying a batch Postgres refuses for good would hold back every later version: report it, go on.
      await publishOrderEvents({
        orderId: state.id,
        locationId: state.locationId,
        events: batch,
        snapshot: order.toSnapshot(state),
      }).catch((err) => this.reportDataError(err, `events up to version ${batch[batch.length - 1]!.version}`));
      this.confirmWritten(through);
      await confirmRefunds(batch);
      this.publishing = false;
    }
  }

  /**
   * Writes the ended order, making the outbox durable with it (and the low-stock alerts);
   * histories from before published those separately. Newer runs write it in a local activity
   * before the closing Update answers, a cash payment's included: its task then also ends the
   * run, one task and one activity fewer per checkout than a regular activity after the answer
   * (issue 10), and the cashier's "paid" means the sale is in the books. Runs from the day
   * between wrote a cash close after its answer (`close-after-the-answer`). Returns the receipt
   * number the closing transaction gave (sold orders; older runs' answers have none).
   */
  private async persist(): Promise<number | undefined> {
    const { state, outbox } = this;
    const req = { snapshot: order.toSnapshot(state), stockLines: stockLines(state) };
    const fails = (err: unknown): never => {
      this.reportDataError(err, `the ${state.status} order`);
      throw err; // the workflow fails, visibly, rather than retrying for ever
    };
    if (!patched('close-persists-events-locally')) {
      const outcome = await persistOrder(req).catch(fails);
      for (const item of outcome.lowStock) this.emit('stock.low', [topic.orders(state.locationId)], item);
      return outcome.receiptNumber;
    }
    this.closing = true;
    await condition(() => !this.publishing);
    const events = outbox.slice();
    const through = this.emitted;
    const closingReq = { ...req, events };
    const local = !this.answerWaits || patched('cash-close-before-its-answer') || !patched('close-after-the-answer');
    const written = local
      ? persistOrderLocally(closingReq).catch(() => persistOrder(closingReq))
      : persistOrder(closingReq);
    const { receiptNumber } = await written.catch(fails);
    this.confirmWritten(through);
    this.closing = false;
    await confirmRefunds(events);
    return receiptNumber;
  }

  /**
   * Queues a print job. An order opened where no receipt printer was enabled queues no job for
   * one (receipt, order number, drawer kick): each would start a print workflow that finds no
   * printer, a third of a cash checkout's whole cost (issue 10). Kitchen tickets always go, so a
   * kitchen printer set up while orders are open still gets theirs. Runs from before have no
   * such setting and print as they did (same commands: no patch needed).
   */
  private queuePrint(request: PrintRequest): void {
    if (request.role === 'receipt' && this.state.settings.receiptPrinter === false) return;
    this.prints.push(request);
  }

  private async startPrints(): Promise<void> {
    const { state } = this;
    while (this.prints.length > 0) {
      const request = this.prints.shift()!;
      this.printSeq += 1;
      this.answerWaits = false; // the start's task carries any answer (see persist)
      await startChild(printTicket, {
        workflowId: workflowIds.print(state.id, request.job.kind, this.printSeq),
        args: [{ ...request, locationId: state.locationId, options: this.input.printOptions }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `Print ${request.job.kind} for order #${state.orderNumber}`,
      });
    }
  }

  // ---- cart Updates -------------------------------------------------------------------------

  private keyedRepeat(): boolean {
    const id = currentUpdateInfo()?.id;
    return id !== undefined && this.earlierKeys.has(id);
  }

  private remember(paymentId: string | null = null): void {
    const id = currentUpdateInfo()?.id;
    if (id?.includes(':')) this.earlierKeys.set(id, paymentId);
  }

  /** A change happened: count it (continue-as-new, the abandon clock). */
  private touched(): void {
    this.updatesThisRun += 1;
    this.lastActivity = Date.now();
  }

  /** One handler shape for every cart update: check, apply, publish, return the snapshot. */
  private cartUpdate<A extends unknown[]>(
    def: Parameters<typeof setHandler>[0],
    check: (...args: A) => unknown,
    apply: (...args: A) => void,
  ): void {
    const { state } = this;
    setHandler(
      def as never,
      ((...args: A) => {
        guard(() => order.checkCaller(state, args[0] as Caller));
        if (this.keyedRepeat()) return order.toSnapshot(state);
        guard(() => check(...args));
        return this.answer(args[0] as Caller, () => {
          apply(...args);
          this.remember();
          this.touched();
          // A change that leaves exactly nothing due (a discount, a removed line) closes the order as
          // a payment would. Histories from before this rule kept such orders open: patched().
          const closed =
            order.isFullyPaid(state) && patched('close-when-a-cart-change-settles') ? this.closeIfPaid() : undefined;
          return closed ?? this.changed();
        });
      }) as never,
      {
        validator: ((...args: A) => {
          guard(() => order.checkCaller(state, args[0] as Caller));
          if (!this.keyedRepeat()) guard(() => check(...args));
        }) as never,
      },
    );
  }

  private setOpenHandler(): void {
    const { state } = this;
    setHandler(
      msg.openOrderUpdate,
      async (caller: Caller) => {
        await condition(() => state.orderNumber !== null);
        return this.answer(caller, () => order.toSnapshot(state));
      },
      { validator: (caller) => guard(() => order.checkCaller(state, caller)) },
    );
  }

  private setCartHandlers(): void {
    const { state, now } = this;
    this.cartUpdate(
      msg.addLineUpdate,
      (req: order.AddLineRequest) => order.checkAddLine(state, req),
      (req: order.AddLineRequest) => order.applyAddLine(state, req, order.checkAddLine(state, req), uuid4(), now()),
    );
    this.cartUpdate(
      msg.updateLineUpdate,
      (req: order.UpdateLineRequest) => order.checkUpdateLine(state, req),
      (req: order.UpdateLineRequest) => {
        const before = this.lineNow(req.lineId);
        order.applyUpdateLine(state, req, order.checkUpdateLine(state, req), now());
        this.amendKitchen(before, this.lineNow(req.lineId));
      },
    );
    this.cartUpdate(
      msg.removeLineUpdate,
      (req: { lineId: string } & order.ApprovalSeen) => order.checkRemoveLine(state, req.lineId, req),
      (req: { lineId: string }) => {
        const before = this.lineNow(req.lineId);
        order.applyRemoveLine(state, req.lineId, now());
        this.amendKitchen(before, undefined);
      },
    );
    this.cartUpdate(
      msg.addDiscountUpdate,
      (d: order.AppliedDiscount & { available: boolean } & order.ApprovalSeen) => order.checkAddDiscount(state, d),
      (d: order.AppliedDiscount & { available: boolean }) => order.applyAddDiscount(state, d, now()),
    );
    this.cartUpdate(
      msg.removeDiscountUpdate,
      (req: { discountId: string }) => order.checkRemoveDiscount(state, req.discountId),
      (req: { discountId: string }) => order.applyRemoveDiscount(state, req.discountId, now()),
    );
    this.cartUpdate(
      msg.setDetailsUpdate,
      (req: order.OrderDetailsRequest) => order.checkDetails(state, req),
      (req: order.OrderDetailsRequest) => order.applyDetails(state, req, now()),
    );
    this.cartUpdate(
      msg.cancelUpdate,
      (req: { reason: string } & order.ApprovalSeen) => order.checkCancel(state, req.reason, req),
      (req: { reason: string }) => {
        order.applyCancel(state, req.reason, now());
        this.closeRequested = true;
      },
    );
  }

  /** A copy of the line as it is now (the checks made sure it exists). */
  private lineNow(lineId: string): order.LineState | undefined {
    const line = this.state.lines.find((l) => l.id === lineId);
    return line && { ...line, modifiers: [...line.modifiers] };
  }

  // ---- the kitchen --------------------------------------------------------------------------

  private setKitchenHandlers(): void {
    const { state, now } = this;
    this.cartUpdate(
      msg.submitUpdate,
      () => order.checkSubmit(state),
      () => this.sendToKitchen(order.applySubmit(state, now())),
    );
    this.cartUpdate(
      msg.readyUpdate,
      (req: msg.ReadyRequest) =>
        req.lineIds === undefined ? order.checkReady(state) : order.checkScreenReady(state, req.lineIds),
      (req: msg.ReadyRequest) => this.ready(req),
    );
  }

  private sendToKitchen(lines: Parameters<typeof kitchenTicketOf>[1]): void {
    this.kitchenTicket(kitchenTicketOf(order.toSnapshot(this.state), lines));
  }

  private kitchenTicket(ticket: ReturnType<typeof kitchenTicketOf> & { amendment?: boolean }): void {
    const { state } = this;
    this.emit('kitchen.ticket', [topic.kitchen(state.locationId), topic.order(state.id)], ticket);
    if (state.settings.autoPrint.kitchen) this.queuePrint({ role: 'kitchen', job: { kind: 'kitchen', ticket } });
  }

  /**
   * A line the kitchen has was changed or voided: it gets an amendment ticket (shown and printed
   * at the line's station). Runs from before printed none, so their changes stay quiet: patched().
   */
  private amendKitchen(before: order.LineState | undefined, after: order.LineState | undefined): void {
    const line = before && order.amendmentOf(before, after);
    if (!line || !patched('amendment-tickets')) return;
    this.kitchenTicket({ ...kitchenTicketOf(order.toSnapshot(this.state), [line]), amendment: true });
  }

  private ready(req: msg.ReadyRequest): void {
    const { state, now } = this;
    // A kitchen screen's bump (a new path: no old history sends lineIds) readies its lines;
    // the order is ready, and announced, once every station has bumped.
    if (req.lineIds !== undefined && patched('kitchen-screen-bumps')) {
      if (!order.applyScreenReady(state, req.lineIds, now())) return;
    } else order.applyReady(state, now());
    const announcement = {
      orderId: state.id,
      orderNumber: state.orderNumber,
      type: state.type,
      table: state.table,
      customerName: state.customerName,
    };
    this.emit(
      'order.ready',
      [
        topic.kitchen(state.locationId),
        topic.order(state.id),
        topic.orders(state.locationId),
        ...(state.terminalId ? [topic.display(state.terminalId)] : []),
      ],
      announcement,
    );
    if (state.settings.autoPrint.orderNumber) {
      this.queuePrint({
        role: 'receipt',
        job: { kind: 'orderNumber', ticket: orderNumberTicketOf(order.toSnapshot(state), state.settings.locationName) },
      });
    }
  }

  // ---- split --------------------------------------------------------------------------------

  /** Split by items (workflows/split.ts): a new Update no old history has; its commands are new. */
  private setSplitHandler(): void {
    const { state } = this;
    const checkSplitRequest = (req: SplitRequest & Caller) => {
      guard(() => order.checkCaller(state, req));
      if (!this.keyedRepeat()) guard(() => checkSplit(state, req));
    };
    setHandler(
      msg.splitUpdate,
      async (req) => {
        checkSplitRequest(req);
        if (this.keyedRepeat())
          return { original: order.toSnapshot(state), newOrderId: this.earlierKeys.get(currentUpdateInfo()!.id)! };
        patched('split-bills');
        await splitOrder(this.input, state, req, this.now());
        this.remember(req.newOrderId);
        this.touched();
        return { original: this.changed(), newOrderId: req.newOrderId };
      },
      { validator: checkSplitRequest },
    );
  }

  // ---- payments -----------------------------------------------------------------------------

  private setPaymentHandlers(): void {
    const { state } = this;
    setHandler(msg.addPaymentUpdate, (req: msg.PaymentRequest) => this.addPayment(req), {
      validator: (req: msg.PaymentRequest) => {
        if (!this.keyedRepeat()) this.validatePayment(req);
      },
    });
    setHandler(
      msg.cancelPaymentUpdate,
      async (req) => {
        const payment = guard(() => order.checkCancelPayment(state, req.paymentId));
        // The payment workflow decides: it cancels at the gateway and refunds a success that slips
        // through, then reports. (A workflow that already ended has sent its final report.)
        if (payment.workflowId) {
          await getExternalWorkflowHandle(payment.workflowId)
            .signal(msg.cancelPaymentSignal)
            .catch(() => undefined);
        }
        return this.paymentAnswer(payment);
      },
      {
        validator: (req) => {
          guard(() => order.checkCaller(state, req));
          guard(() => order.checkCancelPayment(state, req.paymentId));
        },
      },
    );
    setHandler(
      msg.resolvePaymentUpdate,
      async (req) => {
        const payment = guard(() => order.checkResolvePayment(state, req));
        const { callerLocationId: _c, ...resolution } = req;
        if (payment.workflowId)
          await getExternalWorkflowHandle(payment.workflowId).signal(msg.resolvePaymentSignal, resolution);
        return this.paymentAnswer(payment);
      },
      {
        validator: (req) => {
          guard(() => order.checkCaller(state, req));
          guard(() => order.checkResolvePayment(state, req));
        },
      },
    );
  }

  /** Answers once the payment workflow has reported an outcome (or after 30 s, still pending). */
  private async paymentAnswer(payment: PaymentState) {
    await condition(() => payment.status !== 'pending', '30 seconds');
    return { payment: order.publicPayment(payment), order: order.toSnapshot(this.state) };
  }

  private async addPayment(req: msg.PaymentRequest) {
    const { state, now } = this;
    guard(() => order.checkCaller(state, req));
    const earlier = this.keyedRepeat()
      ? state.payments.find((p) => p.id === this.earlierKeys.get(currentUpdateInfo()!.id))
      : undefined;
    if (earlier) return { payment: order.publicPayment(earlier), order: order.toSnapshot(state) };
    this.validatePayment(req);
    const payment = order.newPayment(state, req, uuid4(), now());
    order.applyPayment(state, payment, now());
    this.remember(payment.id);
    this.touched();
    if (payment.method === 'cash') return this.cashPayment(req, payment);
    this.paymentChanged(payment);
    this.changed();
    // Points settle at once, like cash, after the one debit (a new path: no old history has it).
    if (payment.method === 'loyalty' && patched('loyalty-payments')) {
      await settlePointsPayment(state, payment, req.points!, now);
      this.paymentChanged(payment);
      return { payment: order.publicPayment(payment), order: this.closeIfPaid() ?? this.changed() };
    }
    await this.startPaymentWorkflow(payment, req);
    // Answer once the gateway has the charge (QR link, "confirm on your phone", …) or decided.
    await condition(() => payment.reference !== undefined || payment.status !== 'pending', '30 seconds');
    return { payment: order.publicPayment(payment), order: order.toSnapshot(state) };
  }

  private cashPayment(req: msg.PaymentRequest, payment: PaymentState) {
    // The payment's event goes with the answer, so the caller writes it and the close takes it
    // along: no publishing activity (and no tasks for it) per cash checkout. Histories from
    // before emitted it ahead of the answer, which published it at once.
    const withAnswer = patched('cash-payment-event-with-answer');
    if (!withAnswer) this.paymentChanged(payment);
    return this.answer(req, () => {
      if (withAnswer) this.paymentChanged(payment);
      const snapshot = this.closeIfPaid() ?? this.changed();
      this.answerWaits = this.closeRequested;
      // Cash goes into the drawer: open it. Histories from before drawer kicks printed nothing here.
      if (payment.amount > 0 && patched('drawer-kick-on-cash')) this.kickDrawer();
      return { payment: order.publicPayment(payment), order: snapshot };
    });
  }

  private validatePayment(req: msg.PaymentRequest): void {
    const { state } = this;
    guard(() => order.checkCaller(state, req));
    guard(() => order.checkPayment(state, req));
    if (req.method === 'loyalty') return guard(() => checkLoyaltyPayment(state, req));
    if (req.method !== 'cash' && !gatewayOf(req.method, req.provider)) {
      throw rejectionFailure(
        new Rejection('validation', 'card payments need a provider (square or stripe)', 'provider'),
      );
    }
    if (req.method !== 'cash' && !this.input.payments) {
      throw rejectionFailure(new Rejection('validation', `${req.method} payments are not configured`, 'method'));
    }
  }

  private async startPaymentWorkflow(payment: PaymentState, req: msg.PaymentRequest): Promise<void> {
    const { state, input } = this;
    payment.workflowId = workflowIds.payment(state.id, payment.seq);
    await startChild(paymentWorkflow, {
      workflowId: payment.workflowId,
      // A payment finishes its own job (a late success is refunded) even after its order has ended.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `${payment.method}${payment.provider ? ` (${payment.provider})` : ''} payment for order #${state.orderNumber}`,
      staticDetails: `Payment ${payment.id}\nOrder ${state.id} (#${state.orderNumber})\nAmount ${formatMoney(payment.amount + payment.tip + payment.fee, state.settings.currency)}`,
      args: [
        {
          parentWorkflowId: workflowInfo().workflowId,
          gateway: gatewayOf(payment.method, payment.provider)!,
          paymentId: payment.id,
          orderId: state.id,
          orderNumber: state.orderNumber,
          locationId: state.locationId,
          seq: payment.seq,
          method: payment.method,
          provider: payment.provider,
          amount: payment.amount,
          tip: payment.tip,
          fee: payment.fee,
          currency: state.settings.currency,
          deviceId: req.deviceId,
          sourceId: req.sourceId,
          phone: req.phone,
          publicBaseUrl: input.payments!.publicBaseUrl,
          timing: input.payments!.timing,
        },
      ],
    });
  }

  private kickDrawer(): void {
    const { state } = this;
    if (state.status !== 'open' && state.settings.autoPrint.receipt) this.kickWithReceipt = true;
    else this.queuePrint({ role: 'receipt', job: { kind: 'drawerKick', orderId: state.id } });
  }

  private closeIfPaid(): OrderSnapshot | undefined {
    if (!order.isFullyPaid(this.state)) return undefined;
    order.applyClose(this.state, this.now());
    this.closeRequested = true;
    return this.changed();
  }

  // ---- what other workflows report ----------------------------------------------------------

  private setSignalHandlers(): void {
    const { state, now } = this;
    setHandler(msg.paymentUpdatedSignal, (update) => {
      const payment = order.applyPaymentUpdate(state, update, now());
      if (!payment) return;
      this.paymentChanged(payment);
      if (!this.closeIfPaid()) this.changed();
    });
    // A refund while this workflow runs: it alone numbers the order's versions, so it records the
    // refund (at the next version, with refund.updated beside order.updated) rather than Postgres.
    setHandler(msg.refundSettledSignal, (refund) => {
      // Money refunded before the sale is due again; runs from before kept it off the balance.
      const reopensBalance = state.status === 'open' && patched('open-refund-reopens-balance');
      if (!order.applyRefund(state, refund, now(), { reopensBalance })) return; // a redelivery: no second effect
      this.emit('refund.updated', [topic.order(state.id), topic.orders(state.locationId)], refund);
      this.changed();
    });
  }
}

/** Tells each refund workflow its change is on the order (its API answer waits for that). */
async function confirmRefunds(batch: OrderEvent[]): Promise<void> {
  for (const e of batch) {
    if (e.event !== 'refund.updated') continue;
    const refund = e.data as RefundObject;
    // A refund workflow that has ended no longer waits: nothing to tell.
    await getExternalWorkflowHandle(refundWorkflowId(refund.id))
      .signal(refundRecordedSignal, { status: refund.status })
      .catch(() => undefined);
  }
}

function stockLines(state: OrderState) {
  return state.lines.filter((l) => l.trackStock).map((l) => ({ lineId: l.id, itemId: l.itemId, quantity: l.quantity }));
}

/** The line support staff see as "current details" in the Temporal UI. */
function describe(s: OrderSnapshot, problem?: string): string {
  const pending = s.payments.find((p) => p.status === 'pending');
  const parts = [
    `Order #${s.orderNumber ?? '?'} ${s.status}`,
    `${s.lines.length} line(s)`,
    `total ${formatMoney(s.totals.total, s.currency)}`,
    `balance ${formatMoney(s.totals.balance, s.currency)}`,
    `kitchen ${s.kitchenStatus}`,
  ];
  if (pending) parts.push(`waiting for ${pending.method} payment since ${pending.createdAt}`);
  if (problem) parts.push(`⚠ ${problem}`);
  return parts.join(' · ');
}
