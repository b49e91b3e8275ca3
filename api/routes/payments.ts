import type { Knex } from 'knex';
import * as yup from 'yup';
import { json, route, CASHIER, MANAGER } from '../route';
import { ref } from '../openapi-schemas';
import { errorBody, notFound, validationError } from '../errors';
import { gatewayOf } from '../../core/payment';
import { INT4_MAX, int, money, noUnknown, nonBlank, text, uuid } from '../validation';
import { pointsPayment } from '../loyalty-service';
import * as msg from '../../core/messages';
import type { OrderSnapshot, PublicPayment } from '../../core/order';
import { updateOrder } from '../order-service';
import { idempotencyKey } from '../idempotency';
import { TERMINAL_ID } from './displays';
import type { AppDeps } from '../types';

/** The rules that depend on `method`, stated in the spec too (yup's `when` does not reach it). */
const byMethod = (method: string | string[], then: Record<string, unknown>) => ({
  if: { properties: { method: Array.isArray(method) ? { enum: method } : { const: method } }, required: ['method'] },
  then,
});
const methodRules = {
  allOf: [
    byMethod('cash', { required: ['tendered'] }),
    // A card is charged on a reader (deviceId) or with a card token (sourceId): without either it cannot work.
    byMethod('card', {
      required: ['provider'],
      anyOf: [
        { required: ['deviceId'], properties: { deviceId: { pattern: '\\S' } } },
        { required: ['sourceId'], properties: { sourceId: { pattern: '\\S' } } },
      ],
    }),
    byMethod(['mpesa', 'airtel'], { required: ['phone'] }),
    byMethod(['cash', 'card', 'qr', 'mpesa', 'airtel'], { required: ['amount'] }),
    byMethod('loyalty', { required: ['points'] }),
  ],
};

const paymentBody = noUnknown(
  yup.object({
    method: yup
      .string()
      .oneOf(['cash', 'card', 'qr', 'mpesa', 'airtel', 'loyalty'] as const)
      .required(),
    // 0 only for a fully discounted order ("no charge"); loyalty: the points' worth, optional
    amount: money().when('method', {
      is: (m: string) => m !== 'loyalty',
      then: (s) => s.required('amount is required'),
    }),
    points: int()
      .min(1)
      .max(INT4_MAX)
      .when('method', { is: 'loyalty', then: (s) => s.required('points is required for loyalty') }),
    tendered: money().when('method', { is: 'cash', then: (s) => s.required('tendered is required for cash') }),
    tip: money(),
    provider: yup
      .string()
      .oneOf(['square', 'stripe'] as const)
      .when('method', { is: 'card', then: (s) => s.required('provider is required for card') }),
    deviceId: text(100),
    sourceId: text(200),
    // The till taking the payment (default: the order's): its cash counts into that till's drawer.
    terminalId: yup.string().strict().matches(TERMINAL_ID, 'terminalId: 1-64 letters, digits, . _ : -'),
    phone: yup
      .string()
      .strict()
      .matches(/^\+?\d{9,15}$/, 'phone must be an international number, e.g. 254712345678'),
  }),
)
  .test(
    'card-device-or-source',
    'a card payment needs a deviceId (reader) or a sourceId (card token)',
    (v, ctx) =>
      v?.method !== 'card' || Boolean(v.deviceId) || Boolean(v.sourceId) || ctx.createError({ path: 'deviceId' }),
  )
  .meta({ jsonSchema: methodRules });

/**
 * 201 settled, 202 pending; a payment that failed at the gateway is 402 PAYMENT_FAILED with the
 * same body (payment + order) plus the error fields, so no client can take it for a success.
 */
function paymentAnswer(ctx: { status: number }, payment: PublicPayment, order: OrderSnapshot) {
  if (payment.status === 'succeeded') ctx.status = 201;
  else if (payment.status === 'pending') ctx.status = 202;
  else {
    ctx.status = 402;
    const { detail, code, timestamp } = errorBody(
      'PAYMENT_FAILED',
      `The payment ${payment.status === 'failed' ? 'failed' : 'was cancelled'}: ${payment.failureReason ?? 'no reason given'}`,
    );
    return { detail, code, timestamp, ...payment, order };
  }
  return { ...payment, order };
}

/** A method whose gateway cannot charge this location's currency is a 422 now, not a failed payment later. */
async function refuseForeignCurrency(
  deps: AppDeps,
  locationId: string,
  method: string,
  currencies: readonly string[] | undefined,
) {
  if (!currencies) return;
  const { currency } = await deps.knex('locations').where({ id: locationId }).first('currency');
  if (!currencies.includes(currency)) {
    throw validationError(`${method} cannot charge ${currency}`, [
      {
        path: 'method',
        message: `${method} charges ${currencies.join(', ')} only; this location's currency is ${currency}`,
      },
    ]);
  }
}

const takePayment = route({
  method: 'post',
  path: '/api/v1/orders/:id/payments',
  summary:
    'Take a payment towards the balance (cash and loyalty points {"method": "loyalty", "points"} settle at once: 201; gateway payments are pending: 202; declined at the gateway: 402). ' +
    'Card payments need a deviceId (reader) or a sourceId (card token). A fully discounted order closes with {"method": "cash", "amount": 0, "tendered": 0}. ' +
    'Idempotency-Key is required: a retry with the same key returns the first answer (a declined payment stays declined: pay again with a new key).',
  tag: 'Payments',
  roles: CASHIER,
  params: yup.object({ id: uuid().required() }),
  body: paymentBody,
  idempotencyKey: 'required',
  responses: {
    201: json('Payment settled (payment object + order snapshot)', ref('PaymentWithOrder')),
    202: json('Payment pending (payment object + order snapshot)', ref('PaymentWithOrder')),
    402: 'Payment failed at the gateway: code PAYMENT_FAILED, detail, timestamp, plus the payment object (status failed, failureReason) and the order snapshot',
  },
  errors: [404, 409],
  handler: async ({ params, body, auth, deps, ctx }) => {
    if (body.method === 'loyalty') {
      const req = await pointsPayment(deps, auth, params.id, body);
      const { payment, order } = await updateOrder(
        deps,
        auth,
        params.id,
        msg.addPaymentUpdate,
        req,
        idempotencyKey(ctx),
      );
      return paymentAnswer(ctx, payment, order);
    }
    const gateway = gatewayOf(body.method, body.provider);
    if (body.method !== 'cash' && (!gateway || !deps.gateways?.[gateway])) {
      throw validationError(`${body.method} payments are not configured here`, [
        {
          path: body.method === 'card' ? 'provider' : 'method',
          message: `${gateway ?? body.method} is not configured`,
        },
      ]);
    }
    if ((body.method === 'mpesa' || body.method === 'airtel') && !body.phone) {
      throw validationError('phone is required', [{ path: 'phone', message: `phone is required for ${body.method}` }]);
    }
    await refuseForeignCurrency(deps, auth.locationId, body.method, gateway && deps.gateways?.[gateway]?.currencies);
    const { payment, order } = await updateOrder(
      deps,
      auth,
      params.id,
      msg.addPaymentUpdate,
      { ...body, amount: body.amount! },
      idempotencyKey(ctx),
    );
    return paymentAnswer(ctx, payment, order);
  },
});

const cancelPayment = route({
  method: 'delete',
  path: '/api/v1/orders/:id/payments/:paymentId',
  summary:
    'Cancel a pending payment (e.g. the customer switches to cash); a success that still arrives is refunded automatically',
  tag: 'Payments',
  roles: CASHIER,
  params: yup.object({ id: uuid().required(), paymentId: uuid().required() }),
  responses: { 200: json('The cancelled payment (+ order snapshot)', ref('PaymentWithOrder')) },
  errors: [404, 409],
  handler: async ({ params, auth, deps, ctx }) => {
    const { payment, order } = await updateOrder(
      deps,
      auth,
      params.id,
      msg.cancelPaymentUpdate,
      { paymentId: params.paymentId },
      idempotencyKey(ctx),
    );
    return { ...payment, order };
  },
});

const resolvePayment = route({
  method: 'post',
  path: '/api/v1/orders/:id/payments/:paymentId/resolve',
  summary: 'Manager override for a payment stuck pending (audited)',
  tag: 'Payments',
  roles: MANAGER,
  params: yup.object({ id: uuid().required(), paymentId: uuid().required() }),
  body: noUnknown(
    yup.object({
      outcome: yup
        .string()
        .oneOf(['succeeded', 'failed'] as const)
        .required(),
      reason: nonBlank(200).required(),
    }),
  ),
  responses: { 200: json('The resolved payment (+ order snapshot)', ref('PaymentWithOrder')) },
  errors: [404, 409],
  handler: async ({ params, body, auth, deps, ctx }) => {
    const { payment, order } = await updateOrder(
      deps,
      auth,
      params.id,
      msg.resolvePaymentUpdate,
      { paymentId: params.paymentId, outcome: body.outcome, reason: body.reason, staffId: auth.staffId },
      idempotencyKey(ctx),
    );
    return { ...payment, order };
  },
});

const showPayment = route({
  method: 'get',
  path: '/api/v1/payments/:id',
  summary: 'A payment',
  tag: 'Payments',
  roles: CASHIER,
  params: yup.object({ id: uuid().required() }),
  responses: { 200: json('Payment object', ref('Payment')) },
  handler: async ({ params, auth, deps }) => {
    const payment = (await orderOfPayment(deps.knex, auth.locationId, params.id))?.payments.find(
      (p) => p.id === params.id,
    );
    if (!payment) throw notFound('Payment');
    return payment;
  },
});

export function paymentsRoutes() {
  return [takePayment, cancelPayment, resolvePayment, showPayment];
}

/**
 * The order snapshot holding a payment: found by primary keys through the payments table once
 * the order has closed (most lookups), else through the GIN index on the open orders' payments.
 */
async function orderOfPayment(knex: Knex, locationId: string, paymentId: string): Promise<OrderSnapshot | undefined> {
  const persisted = await knex('payments as p')
    .join('orders as o', 'o.id', 'p.order_id')
    .where({ 'p.id': paymentId, 'p.location_id': locationId })
    .first('o.snapshot');
  if (persisted) return persisted.snapshot as OrderSnapshot;
  const open = await knex('orders')
    .where('location_id', locationId)
    .whereRaw(`snapshot->'payments' @> ?::jsonb`, [JSON.stringify([{ id: paymentId }])])
    .first('snapshot');
  return open?.snapshot as OrderSnapshot | undefined;
}
