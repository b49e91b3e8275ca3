import * as yup from 'yup';
import { json, route, CASHIER, MANAGER } from '../route';
import { ref } from '../openapi-schemas';
import { notFound, validationError } from '../errors';
import { gatewayOf } from '../../core/payment';
import { money, noUnknown, nonBlank, text, uuid } from '../validation';
import * as msg from '../../core/messages';
import type { OrderSnapshot } from '../../core/order';
import { updateOrder } from '../order-service';
import { idempotencyKey } from '../idempotency';

/** The per-method required fields, as the spec states them (the server checks the same). */
const requiredFor = (methods: string[], field: string) => ({
  if: { properties: { method: { enum: methods } }, required: ['method'] },
  then: { required: [field] },
});

const paymentBody = noUnknown(
  yup.object({
    method: yup.string().oneOf(['cash', 'card', 'qr', 'mpesa', 'airtel'] as const).required(),
    amount: money().required(), // 0 only for a fully discounted order ("no charge")
    tendered: money().when('method', { is: 'cash', then: (s) => s.required('tendered is required for cash') }),
    tip: money(),
    provider: yup.string().oneOf(['square', 'stripe'] as const).when('method', { is: 'card', then: (s) => s.required('provider is required for card') }),
    deviceId: text(100),
    sourceId: text(200),
    phone: yup.string().strict().matches(/^\+?\d{9,15}$/, 'phone must be an international number, e.g. 254712345678'),
  }),
).meta({ jsonSchema: { allOf: [requiredFor(['cash'], 'tendered'), requiredFor(['card'], 'provider'), requiredFor(['mpesa', 'airtel'], 'phone')] } });

export function paymentsRoutes() {
  return [
    route({
      method: 'post',
      path: '/api/v1/orders/:id/payments',
      summary: 'Take a payment towards the balance (cash settles at once: 201; gateway payments are pending: 202). A fully discounted order closes with {"method": "cash", "amount": 0, "tendered": 0}.',
      tag: 'Payments',
      roles: CASHIER,
      params: yup.object({ id: uuid().required() }),
      body: paymentBody,
      responses: { 201: json('Payment settled (payment object + order snapshot)', ref('PaymentWithOrder')), 202: json('Payment pending (payment object + order snapshot)', ref('PaymentWithOrder')) },
      errors: [404, 409],
      handler: async ({ params, body, auth, deps, ctx }) => {
        const gateway = gatewayOf(body.method, body.provider);
        if (body.method !== 'cash' && (!gateway || !deps.gateways?.[gateway])) {
          throw validationError(`${body.method} payments are not configured here`, [{ path: body.method === 'card' ? 'provider' : 'method', message: `${gateway ?? body.method} is not configured` }]);
        }
        if ((body.method === 'mpesa' || body.method === 'airtel') && !body.phone) {
          throw validationError('phone is required', [{ path: 'phone', message: `phone is required for ${body.method}` }]);
        }
        const { payment, order } = await updateOrder(deps, auth, params.id, msg.addPaymentUpdate, body, idempotencyKey(ctx));
        ctx.status = payment.status === 'pending' ? 202 : 201;
        return { ...payment, order };
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/orders/:id/payments/:paymentId',
      summary: 'Cancel a pending payment (e.g. the customer switches to cash); a success that still arrives is refunded automatically',
      tag: 'Payments',
      roles: CASHIER,
      params: yup.object({ id: uuid().required(), paymentId: uuid().required() }),
      responses: { 200: json('The cancelled payment (+ order snapshot)', ref('PaymentWithOrder')) },
      errors: [404, 409],
      handler: async ({ params, auth, deps, ctx }) => {
        const { payment, order } = await updateOrder(deps, auth, params.id, msg.cancelPaymentUpdate, { paymentId: params.paymentId }, idempotencyKey(ctx));
        return { ...payment, order };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/orders/:id/payments/:paymentId/resolve',
      summary: 'Manager override for a payment stuck pending (audited)',
      tag: 'Payments',
      roles: MANAGER,
      params: yup.object({ id: uuid().required(), paymentId: uuid().required() }),
      body: noUnknown(yup.object({ outcome: yup.string().oneOf(['succeeded', 'failed'] as const).required(), reason: nonBlank(200).required() })),
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
    }),
    route({
      method: 'get',
      path: '/api/v1/payments/:id',
      summary: 'A payment',
      tag: 'Payments',
      roles: CASHIER,
      params: yup.object({ id: uuid().required() }),
      responses: { 200: json('Payment object', ref('Payment')) },
      handler: async ({ params, auth, deps }) => {
        const row = await deps.knex('orders')
          .where('location_id', auth.locationId)
          .whereRaw(`snapshot->'payments' @> ?::jsonb`, [JSON.stringify([{ id: params.id }])])
          .first('snapshot');
        const payment = (row?.snapshot as OrderSnapshot | undefined)?.payments.find((p) => p.id === params.id);
        if (!payment) throw notFound('Payment');
        return payment;
      },
    }),
  ];
}
