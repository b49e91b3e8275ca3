import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { allocateLineRefund, taxWasInclusive, type ChargedOrder } from '../core/pricing';
import { gatewayOf, DEFAULT_PAYMENT_TIMING } from '../core/payment';
import type { OrderSnapshot, PaymentMethod } from '../core/order';
import {
  choosePayment,
  gatewayRefundRule,
  refundGatewayEventSignal,
  reversalResultSignal,
  refundSentUpdate,
  refundWorkflowId,
  type PaymentRefundable,
  type RefundObject,
  type RefundWorkflowInput,
} from '../core/refund';
import { SA } from '../core/search-attributes';
import { readMpesaResult, type MpesaResult } from '../core/mpesa-result';
import { formatMoney } from '../core/format';
import type { refund as refundWorkflow } from '../workflows/refund';
import { refundObject } from '../db/refunds';
import { ensureProjection } from '../db/order-projection';
import { conflict, fieldError, notFound, validationError, type FieldError } from './errors';
import { getOrder, publicBaseUrl, uuidFromKey } from './order-service';
import type { CallbackReceipt } from './webhook-receipts';
import type { AppDeps, AuthContext } from './types';

export interface RefundBody {
  reason: string;
  amount?: number;
  lines?: { lineId: string; quantity: number }[];
  paymentId?: string;
  restock?: boolean;
}

/** How long the API waits for a refund's first answer before replying 202 pending. */
const FIRST_ANSWER_WAIT_MS = 10_000;
const REFUNDABLE_ORDER_STATUSES = ['open', 'closed', 'partially_refunded'];
const TAKEN = ['succeeded', 'refunded'];

interface LineRow {
  lineId: string;
  itemId?: string;
  quantity: number;
  amount: number;
}

/**
 * Creates a refund (or finds the one this Idempotency-Key created) and runs its workflow until
 * the first answer. The refundable amount is reserved under row locks on the order and its
 * payments before anything is sent, so concurrent refunds can never exceed what was taken.
 */
export async function createRefund(
  deps: AppDeps,
  auth: AuthContext,
  orderId: string,
  body: RefundBody,
  key: string,
): Promise<{ refund: RefundObject; settled: boolean }> {
  const refundId = uuidFromKey(`refund:${auth.locationId}:${orderId}:${key}`);
  const existing = await deps.knex('refunds').where('id', refundId).first('location_id');
  if (existing && existing.location_id !== auth.locationId) throw notFound('Refund');
  if (!existing) {
    const order = await getOrder(deps, auth, orderId);
    if (!REFUNDABLE_ORDER_STATUSES.includes(order.status))
      throw conflict(`Order is ${order.status}: nothing to refund`);
    if (!order.payments.some((p) => TAKEN.includes(p.status)))
      throw conflict('Order has no succeeded payment to refund');
    // Stock leaves at close: restocking an open order would add goods that were never deducted.
    if (body.restock && order.status === 'open')
      throw fieldError('restock', 'Nothing has left stock yet: stock is deducted when the order closes');
    await deps.knex.transaction((trx) => reserve(trx, deps, auth, order, refundId, body, key));
  }
  return runRefund(deps, refundId);
}

/** Locks the order and its payments, checks the request against what is refundable, and inserts the pending refund. */
async function reserve(
  trx: Knex.Transaction,
  deps: AppDeps,
  auth: AuthContext,
  order: OrderSnapshot,
  refundId: string,
  body: RefundBody,
  key: string,
): Promise<void> {
  // An open order's projection row is written by the publishing activity a moment after each
  // change, so right after a payment it may not exist yet: write it from the snapshot so there is
  // a row to lock (the publisher overwrites it with the next, strictly newer, version).
  if (order.status === 'open') await ensureProjection(trx, order);
  const locked = await trx('orders')
    .where({ id: order.id, location_id: auth.locationId })
    .forUpdate()
    .first('id', 'persisted_at');
  // A closed order is refunded from its persisted projection, which the closing transaction writes
  // a moment after the order closes: until then there is nothing consistent to write to.
  if (!locked || (order.status !== 'open' && !locked.persisted_at))
    throw conflict('Order is still closing: try again in a moment');
  if (await trx('refunds').where('id', refundId).first('id')) return; // the same request, a moment earlier
  const payments = await lockPayments(trx, order);
  const lines = body.lines
    ? await lineRefund(trx, order, body.lines)
    : body.restock && body.amount === undefined
      ? await remainingLines(trx, order)
      : [];
  const requested = body.lines ? lines.reduce((a, l) => a + l.amount, 0) : body.amount;
  // A full refund (no amount, no lines) is everything still refundable on the chosen payment.
  const wanted = requested ?? choosePayment(payments, 1, body.paymentId)?.refundable ?? 0;
  if (wanted <= 0) throw fieldError(body.lines ? 'lines' : 'amount', 'Nothing left to refund');
  const payment = choosePayment(payments, wanted, body.paymentId);
  if (!payment) throw notCoverable(payments, wanted, body.paymentId);
  const gateway = gatewayOf(payment.method, payment.provider);
  const rule = gatewayRefundRule(payment, wanted, gateway);
  if (rule) throw fieldError(body.lines ? 'lines' : 'amount', rule);
  if (gateway && !deps.gateways?.[gateway])
    throw fieldError('paymentId', `${gateway} is not configured here: this payment cannot be refunded through it`);
  await trx('refunds').insert({
    id: refundId,
    location_id: auth.locationId,
    order_id: order.id,
    payment_id: payment.id,
    method: payment.method,
    provider: payment.provider,
    amount: wanted,
    status: 'pending',
    reason: body.reason,
    staff_id: auth.staffId,
    lines: JSON.stringify(lines),
    restock: body.restock ?? false,
    idempotency_key: key,
    workflow_id: refundWorkflowId(refundId),
    // M-Pesa posts the reversal's result to a URL of ours: an unguessable one per refund.
    result_token: gateway === 'mpesa' ? randomBytes(24).toString('base64url') : null,
    created_at: trx.fn.now(),
    updated_at: trx.fn.now(),
  });
  await trx('audit_log').insert({
    location_id: auth.locationId,
    staff_id: auth.staffId,
    action: 'refund.create',
    subject: refundId,
    data: JSON.stringify({ orderId: order.id, paymentId: payment.id, amount: wanted, reason: body.reason }),
  });
}

/**
 * The order's taken payments, row-locked, with what each can still refund. Cash payments of an
 * open order have no row until the order closes: they get one here from the snapshot.
 */
async function lockPayments(trx: Knex.Transaction, order: OrderSnapshot): Promise<PaymentRefundable[]> {
  const taken = order.payments.filter((p) => TAKEN.includes(p.status));
  for (const [i, p] of taken.entries()) {
    await trx('payments')
      .insert({
        id: p.id,
        location_id: order.locationId,
        order_id: order.id,
        seq: 1000 + i,
        method: p.method,
        provider: p.provider,
        status: p.status,
        amount: p.amount,
        tip: p.tip,
        fee: p.fee,
        reference: p.reference ?? null,
        created_at: p.createdAt,
        settled_at: p.settledAt,
      })
      .onConflict()
      .ignore();
  }
  const rows = await trx('payments')
    .whereIn(
      'id',
      taken.map((p) => p.id),
    )
    .orderBy('id')
    .forUpdate()
    .select('id');
  const reserved = await trx('refunds')
    .whereIn(
      'payment_id',
      taken.map((p) => p.id),
    )
    .whereIn('status', ['pending', 'succeeded'])
    .groupBy('payment_id')
    .select('payment_id')
    .sum('amount as total');
  const used = new Map(reserved.map((r: any) => [r.payment_id as string, Number(r.total)]));
  const locked = new Set(rows.map((r: { id: string }) => r.id));
  return taken
    .filter((p) => locked.has(p.id))
    .map((p) => ({
      id: p.id,
      method: p.method as PaymentMethod,
      provider: p.provider,
      taken: p.amount + p.tip + p.fee,
      refundable: p.amount + p.tip + p.fee - (used.get(p.id) ?? 0),
      createdAt: p.createdAt,
      seq: order.payments.indexOf(p),
    }));
}

/** Units of each line already refunded (or being refunded) by earlier refunds of the order. */
async function refundedUnits(trx: Knex.Transaction, order: OrderSnapshot): Promise<number[]> {
  const rows = await trx('refunds')
    .where('order_id', order.id)
    .whereIn('status', ['pending', 'succeeded'])
    .select('lines');
  const done = new Map<string, number>();
  for (const r of rows)
    for (const l of r.lines as LineRow[]) done.set(l.lineId, (done.get(l.lineId) ?? 0) + l.quantity);
  return order.lines.map((l) => done.get(l.id) ?? 0);
}

function charged(order: OrderSnapshot): ChargedOrder {
  const t = order.totals;
  return {
    lines: order.lines.map((l) => ({ quantity: l.quantity, total: l.total })),
    discount: t.discount,
    serviceCharge: t.serviceCharge,
    tax: t.tax,
    taxInclusive: taxWasInclusive(t),
  };
}

/** The requested line quantities, priced by the one allocation function; more than is left of a line → 422. */
async function lineRefund(
  trx: Knex.Transaction,
  order: OrderSnapshot,
  requested: { lineId: string; quantity: number }[],
): Promise<LineRow[]> {
  const before = await refundedUnits(trx, order);
  const quantities = order.lines.map(() => 0);
  requested.forEach((r, i) => {
    const at = order.lines.findIndex((l) => l.id === r.lineId);
    if (at < 0) throw fieldError(`lines[${i}].lineId`, 'No such line on this order');
    quantities[at]! += r.quantity;
    const left = order.lines[at]!.quantity - before[at]!;
    if (quantities[at]! > left)
      throw fieldError(`lines[${i}].quantity`, `Only ${left} of this line can still be refunded`);
  });
  const allocation = allocateLineRefund(charged(order), before, quantities);
  return order.lines
    .map((l, i) => ({ lineId: l.id, itemId: l.itemId, quantity: quantities[i]!, amount: allocation.lines[i]!.amount }))
    .filter((l) => l.quantity > 0);
}

/** A full refund with restock puts back every unit not refunded before. */
async function remainingLines(trx: Knex.Transaction, order: OrderSnapshot): Promise<LineRow[]> {
  const before = await refundedUnits(trx, order);
  const left = order.lines.map((l, i) => l.quantity - before[i]!);
  const allocation = allocateLineRefund(charged(order), before, left);
  return order.lines
    .map((l, i) => ({ lineId: l.id, itemId: l.itemId, quantity: left[i]!, amount: allocation.lines[i]!.amount }))
    .filter((l) => l.quantity > 0);
}

function notCoverable(payments: PaymentRefundable[], wanted: number, paymentId?: string) {
  const errors: FieldError[] = payments.map((p) => ({
    path: `payments.${p.id}`,
    message: `${p.method} payment: ${p.refundable} refundable`,
  }));
  if (paymentId && !payments.some((p) => p.id === paymentId))
    return fieldError('paymentId', 'No succeeded payment with this id on this order');
  return validationError(
    paymentId
      ? `This payment cannot refund ${wanted}: see its refundable amount`
      : `No single payment can refund ${wanted}: refund each payment separately`,
    errors,
  );
}

/** Starts (or finds) the refund's workflow, waits for its first answer, and returns the refund as stored. */
async function runRefund(deps: AppDeps, refundId: string): Promise<{ refund: RefundObject; settled: boolean }> {
  const row = await deps.knex('refunds').where('id', refundId).first();
  if (row.status === 'pending') {
    const input = await workflowInput(deps, row);
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof refundWorkflow>('refund', {
      workflowId: refundWorkflowId(refundId),
      taskQueue: deps.config.taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: new TypedSearchAttributes([
        { key: SA.locationId, value: input.locationId },
        { key: SA.refundStatus, value: 'pending' },
      ]),
      staticSummary: `Refund of ${formatMoney(input.amount, input.currency)} (${input.method}) on order #${input.orderNumber ?? '?'}`,
      staticDetails: `Refund ${refundId}\nOrder ${input.orderId}\nPayment ${input.paymentId}\nReason ${input.reason}`,
    });
    try {
      await Promise.race([
        deps.temporal.workflow.executeUpdateWithStart(refundSentUpdate, { startWorkflowOperation }),
        new Promise((resolve) => setTimeout(resolve, FIRST_ANSWER_WAIT_MS).unref()),
      ]);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; // finished already: the row says how
    }
  }
  const refund = refundObject(await deps.knex('refunds').where('id', refundId).first());
  return { refund, settled: refund.status !== 'pending' };
}

async function workflowInput(deps: AppDeps, row: Record<string, any>): Promise<RefundWorkflowInput> {
  const payment = await deps.knex('payments').where('id', row.payment_id).first('reference', 'receipt');
  const order = await deps.knex('orders').where('id', row.order_id).first('order_number', 'currency');
  return {
    refundId: row.id,
    orderId: row.order_id,
    orderNumber: order?.order_number ?? null,
    locationId: row.location_id,
    paymentId: row.payment_id,
    method: row.method,
    gateway: gatewayOf(row.method, row.provider),
    reference: payment?.reference ?? undefined,
    receipt: payment?.receipt ?? undefined,
    amount: row.amount,
    currency: order?.currency ?? 'USD',
    reason: row.reason,
    ...(row.result_token ? { resultUrl: `${publicBaseUrl(deps)}/webhooks/mpesa-result/${row.result_token}` } : {}),
    timing: deps.config.paymentTiming ?? DEFAULT_PAYMENT_TIMING,
  };
}

/**
 * Hands an M-Pesa reversal result (or a Transaction Status result about the reversal) to the
 * workflow that sent the reversal. The URL's token says which: a refund's, or a payment's own
 * (its automatic reversal of a late success); the result must name the reversal that was sent.
 * A duplicate, a status that is not final yet, or a result for a settled refund has no second effect.
 */
export async function deliverMpesaResult(
  deps: AppDeps,
  token: string,
  result: MpesaResult,
  receipt: CallbackReceipt,
): Promise<{ received: true }> {
  const target = /^[A-Za-z0-9_-]{16,64}$/.test(token) ? await resultTarget(deps, token) : undefined;
  if (!target) throw notFound('Refund');
  if (target.kind === 'refund') receipt.refund = { id: target.id, location_id: target.locationId };
  else receipt.payment = { id: target.id, location_id: target.locationId, status: target.status! };
  const outcome = readMpesaResult(result);
  if (target.reference && !outcome.names.includes(target.reference)) throw notFound('Reversal');
  receipt.verified = Boolean(target.reference); // it names the reversal this refund (or payment) sent
  if (!outcome.status) {
    receipt.effect = 'ignored';
    return { received: true };
  }
  const word = {
    eventId: `mpesa-result:${outcome.statusQuery ? 'status:' : ''}${outcome.names.join(':')}:${result.ResultCode}:${outcome.status}`,
    status: outcome.status,
    ...(outcome.failureReason ? { failureReason: outcome.failureReason } : {}),
  };
  receipt.eventId = word.eventId;
  receipt.reportedStatus = outcome.status;
  try {
    const handle = deps.temporal.workflow.getHandle(target.workflowId);
    await (target.kind === 'refund'
      ? handle.signal(refundGatewayEventSignal, word)
      : handle.signal(reversalResultSignal, word));
    receipt.effect = 'delivered';
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    receipt.effect = 'late';
    await deps.knex('audit_log').insert({
      location_id: target.locationId,
      action: `${target.kind}.late_result`,
      subject: target.id,
      data: JSON.stringify(result),
    });
  }
  return { received: true };
}

/** Whose ResultURL a token is: a refund's, or a payment's automatic reversal's. */
async function resultTarget(
  deps: AppDeps,
  token: string,
): Promise<
  | {
      kind: 'refund' | 'payment';
      id: string;
      workflowId: string;
      reference?: string;
      locationId: string;
      /** The payment's status (payments only). */
      status?: string;
    }
  | undefined
> {
  const refund = await deps.knex('refunds').where({ result_token: token }).first('id', 'reference', 'location_id');
  if (refund)
    return {
      kind: 'refund',
      id: refund.id,
      workflowId: refundWorkflowId(refund.id),
      reference: refund.reference ?? undefined,
      locationId: refund.location_id,
    };
  const payment = await deps
    .knex('payments')
    .where({ reversal_token: token })
    .first('id', 'workflow_id', 'reversal_reference', 'location_id', 'status');
  if (!payment?.workflow_id) return undefined;
  return {
    kind: 'payment',
    id: payment.id,
    workflowId: payment.workflow_id,
    reference: payment.reversal_reference ?? undefined,
    locationId: payment.location_id,
    status: payment.status,
  };
}

export async function getRefund(deps: AppDeps, auth: AuthContext, refundId: string): Promise<RefundObject> {
  const row = await deps.knex('refunds').where({ id: refundId, location_id: auth.locationId }).first();
  if (!row) throw notFound('Refund');
  return refundObject(row);
}

export async function listOrderRefunds(deps: AppDeps, auth: AuthContext, orderId: string): Promise<RefundObject[]> {
  await getOrder(deps, auth, orderId); // 404 for an unknown order or another location's
  const rows = await deps
    .knex('refunds')
    .where({ order_id: orderId, location_id: auth.locationId })
    .orderBy([{ column: 'created_at' }, { column: 'id' }]);
  return rows.map(refundObject);
}
