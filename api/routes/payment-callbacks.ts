import * as yup from 'yup';
import { json, route, MANAGER } from '../route';
import { ref } from '../openapi-schemas';
import { notFound } from '../errors';
import { uuid } from '../validation';
import { callbacksOf } from '../webhook-receipts';

export function paymentCallbacksRoutes() {
  return [
    route({
      method: 'get',
      path: '/api/v1/payments/:id/callbacks',
      summary:
        'Every webhook or callback received for this payment, oldest first: when, from which gateway (source) and address, whether its signature ' +
        "or URL token checked out (verified), the SHA-256 of the exact body, the gateway's event id and reported status, the payment's status " +
        'when it arrived, and its effect: delivered (handed to the payment workflow), duplicate, late (the workflow had ended), ignored, ' +
        'malformed, unknown_payment (its reference belongs to another payment) or error',
      tag: 'Support',
      roles: MANAGER,
      params: yup.object({ id: uuid().required() }),
      responses: { 200: json('{paymentId, callbacks: [callback]}', ref('PaymentCallbacks')) },
      errors: [404],
      handler: async ({ params, auth, deps }) => {
        const payment = await deps.knex('payments').where({ id: params.id, location_id: auth.locationId }).first('id');
        if (!payment) throw notFound('Payment');
        return { paymentId: params.id, callbacks: await callbacksOf(deps, { payment_id: params.id }) };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/refunds/:id/callbacks',
      summary:
        "Every M-Pesa reversal or Transaction Status result received at this refund's ResultURL, oldest first, as for a payment's " +
        'callbacks (verified: the result named the reversal this refund sent; paymentStatusBefore is null). Effects: delivered, ' +
        'ignored (no final status yet), late (the refund workflow had ended: audited), unknown_payment (another reversal) or error',
      tag: 'Support',
      roles: MANAGER,
      params: yup.object({ id: uuid().required() }),
      responses: { 200: json('{refundId, callbacks: [callback]}', ref('RefundCallbacks')) },
      errors: [404],
      handler: async ({ params, auth, deps }) => {
        const refund = await deps.knex('refunds').where({ id: params.id, location_id: auth.locationId }).first('id');
        if (!refund) throw notFound('Refund');
        return { refundId: params.id, callbacks: await callbacksOf(deps, { refund_id: params.id }) };
      },
    }),
  ];
}
