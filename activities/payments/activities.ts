import { randomBytes } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from '../deps';
import type {
  CancelResult,
  GatewayFailureDetails,
  InitiateRequest,
  InitiateResult,
  PaymentGateway,
  Gateways,
  RefundResult,
  StatusResult,
} from '../../core/gateway';
import type { GatewayKey } from '../../core/payment';
import { gatewayNotConfigured } from './failure';

export interface PaymentRecord {
  paymentId: string;
  orderId: string;
  locationId: string;
  seq: number;
  method: string;
  provider: string | null;
  amount: number;
  tip: number;
  fee: number;
  workflowId: string;
}

/** Whether a failed gateway call may still have been carried out (no answer after the request went out). */
function mayHaveActed(err: unknown): boolean {
  if (!(err instanceof ApplicationFailure)) return true;
  const details = err.details?.[0] as Partial<GatewayFailureDetails> | undefined;
  return details?.mayHaveActed ?? details?.status === undefined;
}

/**
 * A retry after a push whose answer never came: pending with no reference. The payment waits for
 * the callback (its per-payment token names the payment) and adopts its reference once confirmed.
 */
function awaitingCallback(g: PaymentGateway): InitiateResult {
  return {
    status: 'pending',
    reference: '',
    action: { type: 'confirm_on_phone', message: 'A payment prompt may already be on the phone: confirm it there' },
    sandbox: g.sandbox,
  };
}

/** The adapter for a gateway; non-retryable GatewayNotConfigured when this process has none. */
export function gatewayFor(gateways: Gateways, name: GatewayKey): PaymentGateway {
  const g = gateways[name];
  if (!g) throw gatewayNotConfigured(name);
  return g;
}

type Knex = ActivityDeps['knex'];

interface ReverseRequest {
  paymentId: string;
  gateway: GatewayKey;
  reference: string;
  receipt?: string;
  idempotencyKey: string;
  amount: number;
  currency: string;
  reason: string;
  resultUrlBase: string;
}

interface SettleRequest {
  paymentId: string;
  status: string;
  reference?: string;
  receipt?: string;
  failureReason?: string;
  resolvedBy?: { staffId: string; reason: string; locationId: string; outcome: string };
}

/** Records the pending payment (idempotent) and returns its unguessable callback token. */
async function registerPayment(knex: Knex, p: PaymentRecord): Promise<{ callbackToken: string }> {
  await knex('payments')
    .insert({
      id: p.paymentId,
      location_id: p.locationId,
      order_id: p.orderId,
      seq: p.seq,
      method: p.method,
      provider: p.provider,
      status: 'pending',
      amount: p.amount,
      tip: p.tip,
      fee: p.fee,
      workflow_id: p.workflowId,
      callback_token: randomBytes(24).toString('base64url'),
      created_at: knex.fn.now(),
    })
    .onConflict('id')
    .ignore();
  const row = await knex('payments').where('id', p.paymentId).first('callback_token');
  return { callbackToken: row.callback_token };
}

async function initiatePayment(
  knex: Knex,
  gateways: Gateways,
  req: { gateway: GatewayKey; request: InitiateRequest },
): Promise<InitiateResult> {
  const payment = () => knex('payments').where('id', req.request.paymentId);
  const existing = await payment().first('reference', 'sandbox', 'push_attempted_at');
  if (existing?.reference) return { status: 'pending', reference: existing.reference, sandbox: existing.sandbox };
  const g = gatewayFor(gateways, req.gateway);
  if (g.withoutIdempotencyKey) {
    // A push may already be on the phone (its answer lost, or the worker died): never prompt twice.
    if (existing?.push_attempted_at) return awaitingCallback(g);
    await payment().update({ push_attempted_at: knex.fn.now() });
  }
  let result: InitiateResult;
  try {
    result = await g.initiate(req.request);
  } catch (err) {
    // The gateway answered (or was never reached): nothing was sent, so a retry may push.
    if (g.withoutIdempotencyKey && !mayHaveActed(err)) await payment().update({ push_attempted_at: null });
    throw err;
  }
  await payment().update({ reference: result.reference, sandbox: result.sandbox });
  return result;
}

/**
 * An automatic reversal whose result comes later to a ResultURL of ours (M-Pesa): the payment
 * gets its own result token, and a gateway without idempotency keys records the reversal it
 * sent so a retry never reverses twice.
 */
async function reverseAtGateway(
  knex: Knex,
  gateways: Gateways,
  req: ReverseRequest,
): Promise<RefundResult & { resultUrl: string }> {
  await knex('payments')
    .where('id', req.paymentId)
    .whereNull('reversal_token')
    .update({ reversal_token: randomBytes(24).toString('base64url') });
  const row = await knex('payments')
    .where('id', req.paymentId)
    .first('reversal_token', 'reversal_reference', 'reversal_status_reference');
  const resultUrl = `${req.resultUrlBase}${row.reversal_token}`;
  if (row.reversal_reference)
    return {
      status: 'pending',
      reference: row.reversal_reference,
      statusReference: row.reversal_status_reference ?? undefined,
      resultUrl,
    };
  const g = gatewayFor(gateways, req.gateway);
  const { paymentId: _p, resultUrlBase: _b, gateway: _g, ...refund } = req;
  const result = await g.refund({ ...refund, resultUrl });
  if (g.withoutIdempotencyKey && result.status === 'pending' && result.reference) {
    await knex('payments')
      .where('id', req.paymentId)
      .update({ reversal_reference: result.reference, reversal_status_reference: result.statusReference ?? null });
  }
  return { ...result, resultUrl };
}

/** Writes the payment's outcome (and an audit row for manager overrides). */
async function settlePayment(knex: Knex, req: SettleRequest): Promise<void> {
  await knex.transaction(async (trx) => {
    await trx('payments')
      .where('id', req.paymentId)
      .update({
        status: req.status,
        ...(req.reference ? { reference: req.reference } : {}),
        ...(req.receipt ? { receipt: req.receipt } : {}),
        failure_reason: req.failureReason ?? null,
        settled_at: trx.fn.now(),
      });
    if (req.resolvedBy) {
      await trx('audit_log').insert({
        location_id: req.resolvedBy.locationId,
        staff_id: req.resolvedBy.staffId,
        action: 'payment.resolve',
        subject: req.paymentId,
        data: JSON.stringify({ outcome: req.resolvedBy.outcome, reason: req.resolvedBy.reason }),
      });
    }
  });
}

/**
 * Where a pending automatic reversal stands: a gateway that answers at a ResultURL is asked to
 * post it there (pending here); one that can be asked answers; others say pending.
 */
async function reversalStatus(
  g: PaymentGateway,
  req: { reference: string; statusReference?: string; resultUrl: string },
): Promise<RefundResult> {
  if (g.requestRefundStatus) {
    await g.requestRefundStatus({
      reference: req.reference,
      statusReference: req.statusReference,
      resultUrl: req.resultUrl,
    });
    return { status: 'pending', reference: req.reference };
  }
  return g.refundStatus
    ? g.refundStatus({ reference: req.reference })
    : { status: 'pending', reference: req.reference };
}

/**
 * Gateway I/O for the payment workflow. Every call carries the workflow-derived idempotency key;
 * initiate also records the gateway's reference in Postgres before returning, so a retried
 * activity (after a crash between the HTTP call and its completion) returns the first charge
 * instead of pushing a second one to gateways that have no idempotency keys (M-Pesa).
 */
export function paymentActivities({ knex, gateways = {} }: ActivityDeps) {
  return {
    registerPayment: (p: PaymentRecord) => registerPayment(knex, p),

    initiatePayment: (req: { gateway: GatewayKey; request: InitiateRequest }) => initiatePayment(knex, gateways, req),

    async paymentStatus(req: {
      gateway: GatewayKey;
      reference: string;
      idempotencyKey: string;
      total: number;
      currency: string;
    }): Promise<StatusResult> {
      Context.current().heartbeat();
      return gatewayFor(gateways, req.gateway).status(req);
    },

    async cancelAtGateway(req: {
      gateway: GatewayKey;
      reference: string;
      idempotencyKey: string;
    }): Promise<CancelResult> {
      return gatewayFor(gateways, req.gateway).cancel(req);
    },

    async refundAtGateway(req: {
      gateway: GatewayKey;
      reference: string;
      receipt?: string;
      idempotencyKey: string;
      amount: number;
      currency: string;
      reason: string;
    }): Promise<RefundResult> {
      return gatewayFor(gateways, req.gateway).refund(req);
    },

    reverseAtGateway: (req: ReverseRequest) => reverseAtGateway(knex, gateways, req),

    async reversalStatus(req: {
      gateway: GatewayKey;
      reference: string;
      statusReference?: string;
      resultUrl: string;
    }): Promise<RefundResult> {
      return reversalStatus(gatewayFor(gateways, req.gateway), req);
    },

    settlePayment: (req: SettleRequest) => settlePayment(knex, req),
  };
}

export type PaymentActivities = ReturnType<typeof paymentActivities>;
