import { WorkflowNotFoundError } from '@temporalio/client';
import { json, route } from '../route';
import { ref } from '../openapi-schemas';
import { ApiError, badRequest, notFound } from '../errors';
import * as msg from '../../core/messages';
import type { GatewayKey } from '../../core/payment';
import { UnhandledWebhookError, WebhookSignatureError, type WebhookEvent } from '../../core/gateway';
import type { AppDeps } from '../types';
import type { ParameterizedContext } from 'koa';
import { timingSafeEqual } from 'node:crypto';
import { alreadyDelivered, recordingCallback, type CallbackReceipt } from '../webhook-receipts';

function safeEqual(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

function rawWebhook(ctx: ParameterizedContext) {
  const rawBody = (ctx.request as { rawBody?: string }).rawBody ?? '';
  const headers = Object.fromEntries(
    Object.entries(ctx.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
  );
  return { headers, rawBody, url: ctx.href };
}

function parse(deps: AppDeps, gateway: GatewayKey, ctx: ParameterizedContext, receipt: CallbackReceipt): WebhookEvent {
  // /webhooks/stripe carries card (PaymentIntent) and QR (Checkout Session) events: either adapter parses both.
  const adapter = deps.gateways?.[gateway] ?? (gateway === 'stripe' ? deps.gateways?.qr : undefined);
  if (!adapter) throw notFound(`${gateway} webhook`);
  try {
    const e = adapter.parseWebhook(rawWebhook(ctx));
    Object.assign(receipt, { eventId: e.eventId, reportedStatus: e.status });
    return e;
  } catch (err) {
    if (err instanceof WebhookSignatureError)
      throw new ApiError(401, 'UNAUTHENTICATED', `Invalid ${gateway} signature`);
    if (err instanceof UnhandledWebhookError) throw err; // verified, of a type payments do not use: the route acknowledges it
    throw badRequest(`Malformed ${gateway} webhook: ${(err as Error).message}`);
  }
}

/**
 * Hands a verified gateway event to its payment workflow. Duplicates are harmless (the workflow
 * de-duplicates by event id); an event for a payment whose workflow has ended is recorded for
 * support and acknowledged, so the gateway stops retrying.
 */
async function deliver(deps: AppDeps, payment: PaymentRow, e: WebhookEvent, receipt: CallbackReceipt) {
  receipt.payment = payment;
  const duplicate = await alreadyDelivered(deps, payment.id, e.eventId);
  try {
    await deps.temporal.workflow.getHandle(payment.workflow_id).signal(msg.gatewayEventSignal, {
      eventId: e.eventId,
      gateway: e.gateway,
      status: e.status,
      amountPaid: e.amountPaid,
      failureReason: e.failureReason,
      receipt: e.receipt,
      reference: e.reference,
    });
    receipt.effect = duplicate ? 'duplicate' : 'delivered';
    receipt.detail = `${e.gateway} reported ${e.status} while the payment was ${payment.status}: ${duplicate ? 'a repeat of an event already handed over (the workflow ignores it)' : 'handed to its payment workflow'}`;
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    receipt.effect = 'late';
    receipt.detail = `${e.gateway} reported ${e.status} after the payment workflow had ended (payment ${payment.status}): recorded for support as payment.late_webhook`;
    await deps.knex('audit_log').insert({
      location_id: payment.location_id,
      action: 'payment.late_webhook',
      subject: payment.id,
      data: JSON.stringify(e),
    });
    deps.logger.warn({ paymentId: payment.id, event: e }, 'webhook for a payment whose workflow has ended');
  }
  return { received: true };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type PaymentRow = { id: string; workflow_id: string; location_id: string; reference: string | null; status: string };
const PAYMENT_COLUMNS = ['id', 'workflow_id', 'location_id', 'reference', 'status'];

/** Only payments of this gateway: card payments by provider, the others by method. */
function paymentsOf(deps: AppDeps, gateway: GatewayKey) {
  const q = deps.knex('payments').whereNotNull('workflow_id');
  return gateway === 'stripe' || gateway === 'square'
    ? q.where({ method: 'card', provider: gateway })
    : q.where({ method: gateway });
}

/** Thrown when an event names a payment of its gateway but not the gateway's reference the payment stored. */
class ReferenceMismatch extends Error {}

/** The event's reference must be the one the payment stored (none stored yet: initiate has not answered). */
function checkReference(row: PaymentRow, e: WebhookEvent): PaymentRow {
  if (row.reference && e.reference !== row.reference) throw new ReferenceMismatch();
  return row;
}

/**
 * With no reference stored yet, a payment adopts the callback's once a status query confirms it:
 * a reference another payment already holds (a paid push of someone else) is never one to adopt.
 */
async function checkUnclaimed(deps: AppDeps, row: PaymentRow, e: WebhookEvent): Promise<PaymentRow> {
  if (row.reference || !e.reference) return row;
  const other = await deps.knex('payments').where('reference', e.reference).whereNot('id', row.id).first('id');
  if (other) throw new ReferenceMismatch();
  return row;
}

async function paymentByRef(deps: AppDeps, e: WebhookEvent): Promise<PaymentRow> {
  const q = paymentsOf(deps, e.gateway);
  // Our payment id, when the gateway echoes it (metadata set by someone else may not be a UUID: not ours).
  if (e.paymentId && UUID.test(e.paymentId)) q.where('id', e.paymentId);
  else if (e.reference && e.gateway === 'airtel') {
    // Airtel's reference is our workflow id (its transaction id): a callback can beat initiate's storing of the reference.
    q.where((w) => {
      w.where('reference', e.reference!).orWhere((n) => {
        n.whereNull('reference').where('workflow_id', e.reference!);
      });
    });
  } else if (e.reference) q.where('reference', e.reference);
  else throw notFound('Payment');
  const row = await q.first(PAYMENT_COLUMNS);
  if (!row) throw notFound('Payment');
  return checkReference(row, e);
}

const signed = (gateway: 'stripe' | 'square', header: string) =>
  route({
    method: 'post',
    path: `/webhooks/${gateway}`,
    summary: `${gateway === 'stripe' ? 'Stripe' : 'Square'} webhook (${header} verified on the raw body)`,
    tag: 'Webhooks',
    roles: 'public',
    responses: { 200: json('{received: true}', ref('WebhookAck')) },
    errors: [400, 401, 404],
    handler: async ({ deps, ctx }) =>
      recordingCallback(deps, ctx, gateway, (receipt) => handleSigned(deps, gateway, ctx, receipt)),
  });

const ignored = (receipt: CallbackReceipt, detail: string) => {
  Object.assign(receipt, { effect: 'ignored', detail });
  return { received: true as const, ignored: true };
};

async function handleSigned(
  deps: AppDeps,
  gateway: 'stripe' | 'square',
  ctx: ParameterizedContext,
  receipt: CallbackReceipt,
) {
  let e: WebhookEvent;
  try {
    e = parse(deps, gateway, ctx, receipt);
  } catch (err) {
    // 200, or the gateway retries it for days
    if (err instanceof UnhandledWebhookError)
      return ignored(Object.assign(receipt, { verified: true }), 'signed event of a type payments do not use');
    throw err;
  }
  receipt.verified = true;
  if (e.status === 'pending' && !e.paymentId && !e.reference)
    return ignored(receipt, 'pending event naming no payment');
  let payment: PaymentRow;
  try {
    payment = await paymentByRef(deps, e);
  } catch (err) {
    // Signed, but about another charge than the one the payment holds (e.g. a QR page's PaymentIntent): not this payment's word.
    if (err instanceof ReferenceMismatch)
      return ignored(receipt, "signed, but about another charge than the payment's stored reference");
    throw err;
  }
  return deliver(deps, payment, e, receipt);
}

const unsigned = (gateway: 'mpesa' | 'airtel') =>
  route({
    method: 'post',
    path: `/webhooks/${gateway}/:token`,
    summary: `${gateway === 'mpesa' ? 'M-Pesa (Daraja)' : 'Airtel Money'} callback: unsigned, so the URL carries a per-payment token and the result is confirmed with a status query`,
    tag: 'Webhooks',
    roles: 'public',
    responses: { 200: json('{received: true}', ref('WebhookAck')) },
    errors: [400, 404],
    handler: async ({ deps, ctx }) =>
      recordingCallback(deps, ctx, gateway, (receipt) => handleUnsigned(deps, gateway, ctx, receipt)),
  });

/**
 * An unsigned callback counts as verified once its URL token matched (a payment's own, or Airtel's
 * portal token); the payment workflow still confirms its result with a status query.
 */
async function handleUnsigned(
  deps: AppDeps,
  gateway: 'mpesa' | 'airtel',
  ctx: ParameterizedContext,
  receipt: CallbackReceipt,
) {
  const token = String(ctx.params.token ?? '');
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(token)) throw notFound('Payment');
  try {
    const payment: PaymentRow | undefined = await paymentsOf(deps, gateway)
      .where({ callback_token: token })
      .first(PAYMENT_COLUMNS);
    if (payment) {
      Object.assign(receipt, { verified: true, payment });
      const e = parse(deps, gateway, ctx, receipt);
      return await deliver(deps, await checkUnclaimed(deps, checkReference(payment, e), e), e, receipt);
    }
    // Airtel calls one URL registered in its portal for every payment: find it by reference.
    if (gateway === 'airtel' && deps.config.airtelCallbackToken && safeEqual(token, deps.config.airtelCallbackToken)) {
      receipt.verified = true;
      const e = parse(deps, gateway, ctx, receipt);
      return await deliver(deps, await paymentByRef(deps, { ...e, paymentId: undefined }), e, receipt);
    }
  } catch (err) {
    if (!(err instanceof ReferenceMismatch)) throw err;
    receipt.detail = "the callback's reference belongs to another payment";
  }
  throw notFound('Payment');
}

export function webhookRoutes() {
  return [
    signed('stripe', 'Stripe-Signature'),
    signed('square', 'x-square-hmacsha256-signature'),
    unsigned('mpesa'),
    unsigned('airtel'),
  ];
}
