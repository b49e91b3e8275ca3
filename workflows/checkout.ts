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
import { OrderEvent, topic, workflowIds } from '../core/events';
import { SA } from '../core/search-attributes';
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
  const state = input.state;
  const maxUpdates = input.maxUpdatesPerRun ?? 1000;
  const outbox: OrderEvent[] = [];
  const prints: PrintRequest[] = [...(input.pendingPrints ?? [])];
  let printSeq = input.printSeq ?? 0;
  let updatesThisRun = 0;
  let lastActivity = Date.now();
  let publishing = false;
  /** An event nobody else publishes is waiting: publish now, not after the catch-up delay. */
  let urgent = false;
  /** Set while an Update whose caller publishes applies its change. */
  let callerPublishes = false;
  /** Set while a newer run's close hands the outbox to the persisting transaction. */
  let closing = false;
  // A run continued-as-new right after a close or cancel still owes its side effects.
  let closeRequested = state.status !== 'open';
  const now = () => new Date().toISOString();

  const emit = (event: OrderEvent['event'], topics: string[], data: unknown) => {
    outbox.push({ event, topics, data, version: state.version });
    if (!callerPublishes || outbox.length >= CATCH_UP_MAX_EVENTS) urgent = true;
  };

  /**
   * Runs a change for a caller that publishes it (histories from before have no such caller and
   * take the old path; patched() marks the runs that do). Its answer then carries every event
   * not yet durable, older ones included, so whichever write lands first keeps versions in order.
   */
  // Typed as T for the Update definitions: the API unwraps the answer (api/order-service.ts).
  function answer<T>(caller: msg.Caller, change: () => T): T {
    if (!caller.publishes || !patched('caller-publishes-changes')) return change();
    callerPublishes = true;
    try {
      const published: msg.Published<T> = { published: change(), batch: pendingBatch() };
      return published as T;
    } finally {
      callerPublishes = false;
    }
  }
  const pendingBatch = () => ({
    orderId: state.id,
    locationId: state.locationId,
    events: [...outbox],
    snapshot: order.toSnapshot(state),
  });

  /** Publishes the new snapshot to every topic that shows this order. */
  function changed(): OrderSnapshot {
    const snapshot = order.toSnapshot(state);
    emit('order.updated', [topic.order(state.id), topic.orders(state.locationId)], snapshot);
    if (state.terminalId) {
      emit('cart_updated', [topic.display(state.terminalId)], {
        order_id: state.id,
        items: snapshot.lines.map((l) => ({
          name: l.name,
          quantity: l.quantity,
          total: l.total,
          modifiers: l.modifiers.map((m) => m.name),
        })),
        total: snapshot.totals.total,
        ...snapshot,
      });
    }
    updateSearchAttributes(snapshot);
    return snapshot;
  }

  /** A permanent data error of an activity: support staff see it in the current details. */
  let dataProblem: string | undefined;
  function reportDataError(err: unknown, what: string): void {
    const isDataError =
      err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === DATA_ERROR_TYPE;
    if (!isDataError) throw err;
    dataProblem = `${what} could not be recorded: ${err.cause!.message}`;
    setCurrentDetails(describe(order.toSnapshot(state), dataProblem));
  }

  let lastSearchAttributes = '';
  function updateSearchAttributes(s: OrderSnapshot): void {
    const methods = [...new Set(s.payments.map((p) => p.method))];
    const lastPayment = s.payments[s.payments.length - 1];
    // Visibility writes cost the server more than the Update itself: refresh them on milestones
    // (number, kitchen, payment, status), not on every cart edit; OrderTotal is current from then.
    const key = JSON.stringify([s.status, s.kitchenStatus, s.orderNumber, methods, lastPayment?.status]);
    setCurrentDetails(describe(s, dataProblem));
    if (key === lastSearchAttributes) return;
    lastSearchAttributes = key;
    upsertSearchAttributes([
      { key: SA.orderStatus, value: s.status },
      { key: SA.kitchenStatus, value: s.kitchenStatus },
      { key: SA.orderTotal, value: s.totals.total },
      ...(s.orderNumber !== null ? [{ key: SA.orderNumber, value: s.orderNumber }] : []),
      { key: SA.paymentMethod, value: methods.length ? methods : null },
      { key: SA.paymentStatus, value: lastPayment?.status ?? null },
    ]);
  }

  /** One handler shape for every cart update: check, apply, publish, return the snapshot. */
  /**
   * Idempotency-Key ids (`<update>:<key>`) applied in earlier runs. Temporal de-duplicates Update
   * ids within a run; these carry the promise across continue-as-new: a repeat changes nothing.
   */
  const earlierKeys = new Map<string, string | null>(Object.entries(input.appliedKeys ?? {}));
  const keyedRepeat = (): boolean => {
    const id = currentUpdateInfo()?.id;
    return id !== undefined && earlierKeys.has(id);
  };
  const remember = (paymentId: string | null = null): void => {
    const id = currentUpdateInfo()?.id;
    if (id?.includes(':')) earlierKeys.set(id, paymentId);
  };

  function cartUpdate<A extends unknown[]>(
    def: Parameters<typeof setHandler>[0],
    check: (...args: A) => unknown,
    apply: (...args: A) => void,
  ) {
    setHandler(
      def as never,
      ((...args: A) => {
        guard(() => order.checkCaller(state, args[0] as msg.Caller));
        if (keyedRepeat()) return order.toSnapshot(state);
        guard(() => check(...args));
        return answer(args[0] as msg.Caller, () => {
          apply(...args);
          remember();
          updatesThisRun += 1;
          lastActivity = Date.now();
          // A change that leaves exactly nothing due (a discount, a removed line) closes the order as
          // a payment would. Histories from before this rule kept such orders open: patched().
          const closed =
            order.isFullyPaid(state) && patched('close-when-a-cart-change-settles') ? closeIfPaid() : undefined;
          return closed ?? changed();
        });
      }) as never,
      {
        validator: ((...args: A) => {
          guard(() => order.checkCaller(state, args[0] as msg.Caller));
          if (!keyedRepeat()) guard(() => check(...args));
        }) as never,
      },
    );
  }

  setHandler(msg.snapshotQuery, () => order.toSnapshot(state));

  setHandler(
    msg.openOrderUpdate,
    async (caller: msg.Caller) => {
      await condition(() => state.orderNumber !== null);
      return answer(caller, () => order.toSnapshot(state));
    },
    { validator: (caller) => guard(() => order.checkCaller(state, caller)) },
  );

  cartUpdate(
    msg.addLineUpdate,
    (req: order.AddLineRequest) => order.checkAddLine(state, req),
    (req: order.AddLineRequest) => {
      order.applyAddLine(state, req, order.checkAddLine(state, req), uuid4(), now());
    },
  );
  cartUpdate(
    msg.updateLineUpdate,
    (req: order.UpdateLineRequest) => order.checkUpdateLine(state, req),
    (req: order.UpdateLineRequest) => {
      const before = lineNow(req.lineId);
      order.applyUpdateLine(state, req, order.checkUpdateLine(state, req), now());
      amendKitchen(before, lineNow(req.lineId));
    },
  );
  cartUpdate(
    msg.removeLineUpdate,
    (req: { lineId: string } & order.ApprovalSeen) => order.checkRemoveLine(state, req.lineId, req),
    (req: { lineId: string }) => {
      const before = lineNow(req.lineId);
      order.applyRemoveLine(state, req.lineId, now());
      amendKitchen(before, undefined);
    },
  );

  /** A copy of the line as it is now (the checks made sure it exists). */
  function lineNow(lineId: string): order.LineState | undefined {
    const line = state.lines.find((l) => l.id === lineId);
    return line && { ...line, modifiers: [...line.modifiers] };
  }

  /**
   * A line the kitchen has was changed or voided: it gets an amendment ticket (shown and printed
   * at the line's station). Runs from before printed none, so their changes stay quiet: patched().
   */
  function amendKitchen(before: order.LineState | undefined, after: order.LineState | undefined): void {
    const line = before && order.amendmentOf(before, after);
    if (!line || !patched('amendment-tickets')) return;
    const ticket = { ...kitchenTicketOf(order.toSnapshot(state), [line]), amendment: true };
    emit('kitchen.ticket', [topic.kitchen(state.locationId), topic.order(state.id)], ticket);
    if (state.settings.autoPrint.kitchen) prints.push({ role: 'kitchen', job: { kind: 'kitchen', ticket } });
  }
  cartUpdate(
    msg.addDiscountUpdate,
    (d: order.AppliedDiscount & { available: boolean } & order.ApprovalSeen) => order.checkAddDiscount(state, d),
    (d: order.AppliedDiscount & { available: boolean }) => order.applyAddDiscount(state, d, now()),
  );
  cartUpdate(
    msg.removeDiscountUpdate,
    (req: { discountId: string }) => order.checkRemoveDiscount(state, req.discountId),
    (req: { discountId: string }) => order.applyRemoveDiscount(state, req.discountId, now()),
  );
  cartUpdate(
    msg.setDetailsUpdate,
    (req: order.OrderDetailsRequest) => order.checkDetails(state, req),
    (req: order.OrderDetailsRequest) => order.applyDetails(state, req, now()),
  );
  cartUpdate(
    msg.submitUpdate,
    () => order.checkSubmit(state),
    () => {
      const lines = order.applySubmit(state, now());
      const ticket = kitchenTicketOf(order.toSnapshot(state), lines);
      emit('kitchen.ticket', [topic.kitchen(state.locationId), topic.order(state.id)], ticket);
      if (state.settings.autoPrint.kitchen) prints.push({ role: 'kitchen', job: { kind: 'kitchen', ticket } });
    },
  );
  cartUpdate(
    msg.readyUpdate,
    (req: msg.ReadyRequest) =>
      req.lineIds === undefined ? order.checkReady(state) : order.checkScreenReady(state, req.lineIds),
    (req: msg.ReadyRequest) => {
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
      emit(
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
        prints.push({
          role: 'receipt',
          job: {
            kind: 'orderNumber',
            ticket: orderNumberTicketOf(order.toSnapshot(state), state.settings.locationName),
          },
        });
      }
    },
  );
  cartUpdate(
    msg.cancelUpdate,
    (req: { reason: string } & order.ApprovalSeen) => order.checkCancel(state, req.reason, req),
    (req: { reason: string }) => {
      order.applyCancel(state, req.reason, now());
      closeRequested = true;
    },
  );

  // Split by items (workflows/split.ts): a new Update no old history has; its commands are new.
  const checkSplitRequest = (req: SplitRequest & msg.Caller) => {
    guard(() => order.checkCaller(state, req));
    if (!keyedRepeat()) guard(() => checkSplit(state, req));
  };
  setHandler(
    msg.splitUpdate,
    async (req) => {
      checkSplitRequest(req);
      if (keyedRepeat())
        return { original: order.toSnapshot(state), newOrderId: earlierKeys.get(currentUpdateInfo()!.id)! };
      patched('split-bills');
      await splitOrder(input, state, req, now());
      remember(req.newOrderId);
      updatesThisRun += 1;
      lastActivity = Date.now();
      return { original: changed(), newOrderId: req.newOrderId };
    },
    { validator: checkSplitRequest },
  );

  setHandler(
    msg.addPaymentUpdate,
    async (req: msg.PaymentRequest) => {
      guard(() => order.checkCaller(state, req));
      const earlier = keyedRepeat()
        ? state.payments.find((p) => p.id === earlierKeys.get(currentUpdateInfo()!.id))
        : undefined;
      if (earlier) return { payment: order.publicPayment(earlier), order: order.toSnapshot(state) };
      validatePayment(req);
      const payment = order.newPayment(state, req, uuid4(), now());
      order.applyPayment(state, payment, now());
      remember(payment.id);
      updatesThisRun += 1;
      lastActivity = Date.now();
      if (payment.method === 'cash') {
        // The payment's event goes with the answer, so the caller writes it and the close takes it
        // along: no publishing activity (and no tasks for it) per cash checkout. Histories from
        // before emitted it ahead of the answer, which published it at once.
        const withAnswer = patched('cash-payment-event-with-answer');
        if (!withAnswer) paymentChanged(payment);
        return answer(req, () => {
          if (withAnswer) paymentChanged(payment);
          const snapshot = closeIfPaid() ?? changed();
          // Cash goes into the drawer: open it. Histories from before drawer kicks printed nothing here.
          if (payment.amount > 0 && patched('drawer-kick-on-cash')) kickDrawer();
          return { payment: order.publicPayment(payment), order: snapshot };
        });
      }
      paymentChanged(payment);
      changed();
      // Points settle at once, like cash, after the one debit (a new path: no old history has it).
      if (payment.method === 'loyalty' && patched('loyalty-payments')) {
        await settlePointsPayment(state, payment, req.points!, now);
        paymentChanged(payment);
        return { payment: order.publicPayment(payment), order: closeIfPaid() ?? changed() };
      }
      await startPaymentWorkflow(payment, req);
      // Answer once the gateway has the charge (QR link, "confirm on your phone", …) or decided.
      await condition(() => payment.reference !== undefined || payment.status !== 'pending', '30 seconds');
      return { payment: order.publicPayment(payment), order: order.toSnapshot(state) };
    },
    {
      validator: (req: msg.PaymentRequest) => {
        if (!keyedRepeat()) validatePayment(req);
      },
    },
  );

  function validatePayment(req: msg.PaymentRequest): void {
    guard(() => order.checkCaller(state, req));
    guard(() => order.checkPayment(state, req));
    if (req.method === 'loyalty') return guard(() => checkLoyaltyPayment(state, req));
    if (req.method !== 'cash' && !gatewayOf(req.method, req.provider)) {
      throw rejectionFailure(
        new Rejection('validation', 'card payments need a provider (square or stripe)', 'provider'),
      );
    }
    if (req.method !== 'cash' && !input.payments) {
      throw rejectionFailure(new Rejection('validation', `${req.method} payments are not configured`, 'method'));
    }
  }

  async function startPaymentWorkflow(payment: PaymentState, req: msg.PaymentRequest): Promise<void> {
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

  setHandler(msg.paymentUpdatedSignal, (update) => {
    const payment = order.applyPaymentUpdate(state, update, now());
    if (!payment) return;
    paymentChanged(payment);
    if (!closeIfPaid()) changed();
  });

  // A refund while this workflow runs: it alone numbers the order's versions, so it records the
  // refund (at the next version, with refund.updated beside order.updated) rather than Postgres.
  setHandler(msg.refundSettledSignal, (refund) => {
    // Money refunded before the sale is due again; runs from before kept it off the balance.
    const reopensBalance = state.status === 'open' && patched('open-refund-reopens-balance');
    if (!order.applyRefund(state, refund, now(), { reopensBalance })) return; // a redelivery: no second effect
    emit('refund.updated', [topic.order(state.id), topic.orders(state.locationId)], refund);
    changed();
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
      await condition(() => payment.status !== 'pending', '30 seconds');
      return { payment: order.publicPayment(payment), order: order.toSnapshot(state) };
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
      await condition(() => payment.status !== 'pending', '30 seconds');
      return { payment: order.publicPayment(payment), order: order.toSnapshot(state) };
    },
    {
      validator: (req) => {
        guard(() => order.checkCaller(state, req));
        guard(() => order.checkResolvePayment(state, req));
      },
    },
  );

  function paymentChanged(p: PaymentState): void {
    const topics = [
      topic.order(state.id),
      topic.orders(state.locationId),
      ...(state.terminalId ? [topic.display(state.terminalId)] : []),
    ];
    emit('payment.updated', topics, order.publicPayment(p));
  }

  /**
   * Writes the ended order. Newer runs do it in a local activity that also makes the outbox
   * durable (with the low-stock alerts); histories from before published those separately.
   */
  /** Returns the receipt number the closing transaction gave (sold orders; older runs' answers have none). */
  async function persist(): Promise<number | undefined> {
    const req = { snapshot: order.toSnapshot(state), stockLines: stockLines(state) };
    const fails = (err: unknown): never => {
      reportDataError(err, `the ${state.status} order`);
      throw err; // the workflow fails, visibly, rather than retrying for ever
    };
    if (!patched('close-persists-events-locally')) {
      const outcome = await persistOrder(req).catch(fails);
      for (const item of outcome.lowStock) emit('stock.low', [topic.orders(state.locationId)], item);
      return outcome.receiptNumber;
    }
    closing = true;
    await condition(() => !publishing);
    const events = outbox.slice();
    const closingReq = { ...req, events };
    const { receiptNumber } = await persistOrderLocally(closingReq)
      .catch(() => persistOrder(closingReq))
      .catch(fails);
    outbox.splice(0, events.length);
    closing = false;
    await confirmRefunds(events);
    return receiptNumber;
  }

  /** The receipt printer opens the drawer: with the receipt when this payment closed the order and one prints, else at once. */
  let kickWithReceipt = false;
  function kickDrawer(): void {
    if (state.status !== 'open' && state.settings.autoPrint.receipt) kickWithReceipt = true;
    else prints.push({ role: 'receipt', job: { kind: 'drawerKick', orderId: state.id } });
  }

  function closeIfPaid(): OrderSnapshot | undefined {
    if (!order.isFullyPaid(state)) return undefined;
    order.applyClose(state, now());
    closeRequested = true;
    return changed();
  }

  /**
   * Publishes the outbox in order. Events stay in it until they are durable, so every answer to
   * a publishing caller repeats them. What such callers published already waits for one catch-up
   * per burst (a crashed API replica's changes still arrive), or for the close to take it along.
   */
  async function publisher(): Promise<void> {
    for (;;) {
      await condition(() => outbox.length > 0 && !closing);
      if (!urgent) {
        await condition(() => urgent || closing, CATCH_UP_AFTER_MS);
        if (closing) continue; // the closing transaction takes them along
      }
      publishing = true;
      urgent = false;
      const batch = outbox.slice();
      // Retrying a batch Postgres refuses for good would hold back every later version: report it, go on.
      await publishOrderEvents({
        orderId: state.id,
        locationId: state.locationId,
        events: batch,
        snapshot: order.toSnapshot(state),
      }).catch((err) => reportDataError(err, `events up to version ${batch[batch.length - 1]!.version}`));
      outbox.splice(0, batch.length);
      await confirmRefunds(batch);
      publishing = false;
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

  async function startPrints(): Promise<void> {
    while (prints.length > 0) {
      const request = prints.shift()!;
      printSeq += 1;
      await startChild(printTicket, {
        workflowId: workflowIds.print(state.id, request.job.kind, printSeq),
        args: [{ ...request, locationId: state.locationId, options: input.printOptions }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `Print ${request.job.kind} for order #${state.orderNumber}`,
      });
    }
  }

  // ---- run ----
  void publisher();
  if (state.orderNumber === null) {
    state.orderNumber = await assignOrderNumber({ orderId: state.id, locationId: state.locationId });
    state.version += 1;
    changed();
  } else if (state.version === 0 && patched('opening-snapshot-with-api-number')) {
    // A newer API assigned the number before starting: the first snapshot needs no activity.
    // Workers from before this took such a start for a continued run (the branch below), and a
    // new API meets them during a rolling deploy: their runs replay without the marker.
    callerPublishes = input.openerPublishes === true;
    state.version += 1;
    changed();
    callerPublishes = false;
  } else {
    updateSearchAttributes(order.toSnapshot(state)); // a continued run
  }

  for (;;) {
    const idleFor = input.abandonAfterMs - (Date.now() - lastActivity);
    const woke = await condition(
      () =>
        closeRequested || prints.length > 0 || updatesThisRun >= maxUpdates || workflowInfo().continueAsNewSuggested,
      Math.max(idleFor, 1),
    );
    await startPrints();
    if (closeRequested) break;
    if (!woke && Date.now() - lastActivity >= input.abandonAfterMs) {
      if (!order.hasSucceededPayment(state) && !order.hasPendingPayment(state)) {
        order.applyCancel(state, 'abandoned: no activity', now());
        changed();
        break;
      }
      lastActivity = Date.now(); // money was taken: keep it open for staff (it shows in stuck orders)
    }
    if (updatesThisRun >= maxUpdates || workflowInfo().continueAsNewSuggested) {
      await condition(() => allHandlersFinished() && outbox.length === 0 && !publishing);
      // A close, cancel or print that arrived while we waited is handled in this run.
      if (closeRequested || prints.length > 0) continue;
      const appliedKeys = Object.fromEntries([...earlierKeys].slice(-500)); // the newest 500 keys
      await continueAsNew<typeof checkout>({ ...input, state, printSeq, pendingPrints: [], appliedKeys });
    }
  }

  const receiptNumber = await persist();
  if (order.wasSold(state) && state.settings.autoPrint.receipt) {
    // The receipt number comes from the closing transaction (older runs' answers have none).
    // Only the print's input changes, not the commands: no patch needed.
    const sold = { ...order.toSnapshot(state), ...(receiptNumber !== undefined ? { receiptNumber } : {}) };
    const receipt = receiptOf(sold, state.settings.locationName, state.settings.taxInclusive);
    prints.push({ role: 'receipt', job: { kind: 'receipt', receipt, ...(kickWithReceipt ? { kick: true } : {}) } });
    await startPrints();
  }
  // Pay-first shops: the order is paid while the kitchen still cooks. Stay for the bump so the
  // number is still announced (and printed), but not forever.
  if (order.wasSold(state) && state.kitchenStatus === 'sent') {
    await condition(() => state.kitchenStatus === 'ready', input.kitchenWaitMs ?? 4 * 3600_000);
    await startPrints();
  }
  await condition(() => allHandlersFinished() && outbox.length === 0 && !publishing);
  return order.toSnapshot(state);
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
