import { createHash } from 'node:crypto';
import type { ParameterizedContext } from 'koa';
import { ApiError } from './errors';
import type { AppDeps } from './types';
import type { GatewayKey } from '../core/payment';

/** What the API did with a callback (stored in webhook_receipts.effect). */
export type CallbackEffect =
  'delivered' | 'duplicate' | 'late' | 'ignored' | 'rejected' | 'malformed' | 'unknown_payment' | 'error';

/** A payment as far as a callback needs it. */
export interface CallbackPayment {
  id: string;
  location_id: string;
  status: string;
}

/** Filled in by a webhook handler as it learns things, stored once the answer is known. */
export interface CallbackReceipt {
  verified: boolean;
  payment?: CallbackPayment;
  /** A reversal or status result for a refund: the refund's id and location. */
  refund?: { id: string; location_id: string };
  eventId?: string;
  reportedStatus?: string;
  effect?: CallbackEffect;
  detail?: string;
}

const EFFECT_OF_STATUS: Record<number, CallbackEffect> = { 400: 'malformed', 401: 'rejected', 404: 'unknown_payment' };

function failureEffect(err: unknown): CallbackEffect {
  return (err instanceof ApiError && EFFECT_OF_STATUS[err.status]) || 'error';
}

async function store(
  deps: AppDeps,
  ctx: ParameterizedContext,
  gateway: GatewayKey,
  r: CallbackReceipt,
  httpStatus: number,
) {
  const rawBody = (ctx.request as { rawBody?: string }).rawBody ?? '';
  await deps.knex('webhook_receipts').insert({
    gateway,
    source_ip: ctx.ip || null,
    location_id: r.payment?.location_id ?? r.refund?.location_id ?? null,
    payment_id: r.payment?.id ?? null,
    refund_id: r.refund?.id ?? null,
    verified: r.verified,
    body_sha256: createHash('sha256').update(rawBody).digest('hex'),
    body_bytes: Buffer.byteLength(rawBody),
    event_id: r.eventId ?? null,
    reported_status: r.reportedStatus ?? null,
    payment_status_before: r.payment?.status ?? null,
    effect: r.effect ?? 'error',
    detail: r.detail ?? null,
    http_status: httpStatus,
  });
}

/**
 * Runs a webhook handler and stores what was received and done, whatever the outcome (refused
 * signatures and unknown payments too). If the row cannot be written the gateway gets an error and
 * retries, so no callback is acted on without its record.
 */
export async function recordingCallback<T>(
  deps: AppDeps,
  ctx: ParameterizedContext,
  gateway: GatewayKey,
  handle: (receipt: CallbackReceipt) => Promise<T>,
): Promise<T> {
  const receipt: CallbackReceipt = { verified: false };
  try {
    const answer = await handle(receipt);
    await store(deps, ctx, gateway, receipt, 200); // every webhook answer that is not an error is a 200
    return answer;
  } catch (err) {
    receipt.effect ??= failureEffect(err);
    receipt.detail ??= (err as Error).message;
    await store(deps, ctx, gateway, receipt, err instanceof ApiError ? err.status : 500).catch((e) =>
      deps.logger.error({ err: e, gateway }, 'could not record a webhook receipt'),
    );
    throw err;
  }
}

/** True when this payment already had this gateway event handed to its workflow. */
export async function alreadyDelivered(deps: AppDeps, paymentId: string, eventId: string): Promise<boolean> {
  const row = await deps
    .knex('webhook_receipts')
    .where({ payment_id: paymentId, event_id: eventId })
    .whereIn('effect', ['delivered', 'duplicate'])
    .first('id');
  return Boolean(row);
}

interface ReceiptRow {
  id: string;
  received_at: Date;
  gateway: string;
  source_ip: string | null;
  verified: boolean;
  body_sha256: string;
  body_bytes: number;
  event_id: string | null;
  reported_status: string | null;
  payment_status_before: string | null;
  effect: string;
  detail: string | null;
  http_status: number;
}

export const callbackView = (r: ReceiptRow) => ({
  id: String(r.id),
  receivedAt: r.received_at.toISOString(),
  source: r.gateway,
  sourceIp: r.source_ip,
  verified: r.verified,
  bodySha256: r.body_sha256,
  bodyBytes: r.body_bytes,
  eventId: r.event_id,
  reportedStatus: r.reported_status,
  paymentStatusBefore: r.payment_status_before,
  effect: r.effect,
  detail: r.detail,
  httpStatus: r.http_status,
});

/** A payment's or a refund's callbacks, oldest first (each gets a handful; the cap only bounds a flood). */
export async function callbacksOf(
  deps: AppDeps,
  of: { payment_id: string } | { refund_id: string },
): Promise<ReturnType<typeof callbackView>[]> {
  const rows: ReceiptRow[] = await deps.knex('webhook_receipts').where(of).orderBy('id').limit(1000);
  return rows.map(callbackView);
}
