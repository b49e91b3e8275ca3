import * as yup from 'yup';
import { json, route, CASHIER, MANAGER } from '../route';
import { listOf, ref as component } from '../openapi-schemas';
import { fieldError, validationError } from '../errors';
import { bool, money, noUnknown, text, uuid, INT4_MAX } from '../validation';
import { idempotencyKey } from '../idempotency';
import { createRefund, deliverMpesaResult, getRefund, listOrderRefunds } from '../refund-service';
import { recordingCallback } from '../webhook-receipts';

const mpesaResultBody = yup.object({
  Result: yup
    .object({
      ResultCode: yup
        .mixed<number | string>()
        .test('code', 'ResultCode must be a number or a string', (v) => typeof v === 'number' || typeof v === 'string')
        .required()
        .meta({ jsonSchema: { type: ['number', 'string'] } }),
      ResultDesc: yup.string().strict().max(1000),
      ConversationID: yup.string().strict().max(200),
      OriginatorConversationID: yup.string().strict().max(200),
      // A Transaction Status result names the queried transaction and its TransactionStatus here
      // (a list of {Key, Value}, or one such object).
      ResultParameters: yup
        .object({ ResultParameter: yup.mixed().meta({ jsonSchema: { type: ['array', 'object'] } }) })
        .default(undefined),
    })
    .required(),
});

const refundBody = noUnknown(
  yup.object({
    reason: text(200).min(1, 'reason must not be empty').required(),
    amount: money().min(1, 'amount must be at least 1'),
    lines: yup
      .array(
        noUnknown(
          yup.object({
            lineId: uuid().required(),
            quantity: yup.number().strict().integer().min(1).max(INT4_MAX).required(),
          }),
        ),
      )
      .strict()
      .min(1)
      .max(200),
    paymentId: uuid(),
    restock: bool(),
  }),
);

export function refundsRoutes() {
  return [
    route({
      method: 'post',
      path: '/api/v1/orders/:id/refunds',
      summary:
        'Refund (part of) one payment: by line quantities (`lines`), by `amount`, or in full (neither). Idempotency-Key is required; ' +
        'a repeat returns the same refund. 201 when settled at once (cash, a gateway that confirmed), else 202 pending. ' +
        '`lines` with `amount` → 422; `restock` needs `lines` unless the refund is full; Airtel refunds whole transactions and M-Pesa whole shillings only (422).',
      tag: 'Refunds',
      roles: MANAGER,
      params: yup.object({ id: uuid().required() }),
      body: refundBody,
      idempotencyKey: 'required',
      responses: {
        201: json('Refund settled', component('Refund')),
        202: json('Refund pending at the gateway', component('Refund')),
      },
      errors: [404, 409],
      handler: async ({ params, body, auth, deps, ctx }) => {
        const key = idempotencyKey(ctx)!; // required by the route (422 before the handler without it)
        if (body.lines && body.amount !== undefined) {
          throw validationError('Refund by lines or by amount, not both', [
            { path: 'amount', message: 'amount cannot be combined with lines' },
          ]);
        }
        if (body.restock && !body.lines && body.amount !== undefined)
          throw fieldError('restock', 'restock needs lines (or a full refund)');
        const { refund, settled } = await createRefund(deps, auth, params.id, body, key);
        ctx.status = settled ? 201 : 202;
        return refund;
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/orders/:id/refunds',
      summary: "The order's refunds, oldest first",
      tag: 'Refunds',
      roles: CASHIER,
      params: yup.object({ id: uuid().required() }),
      responses: { 200: json('Refund objects, oldest first', listOf('Refund')) },
      errors: [404],
      handler: async ({ params, auth, deps }) => listOrderRefunds(deps, auth, params.id),
    }),
    route({
      method: 'post',
      path: '/webhooks/mpesa-result/:token',
      summary:
        "Daraja's asynchronous reversal result, or Transaction Status result, for one refund: the URL carries the refund's unguessable token; the result must name the reversal that refund sent",
      tag: 'Webhooks',
      roles: 'public',
      params: yup.object({ token: yup.string().strict().max(100).required() }),
      body: mpesaResultBody,
      responses: { 200: json('{received: true}', component('WebhookAck')) },
      errors: [404],
      handler: async ({ params, body, deps, ctx }) =>
        recordingCallback(deps, ctx, 'mpesa', (receipt) =>
          deliverMpesaResult(deps, params.token, body.Result, receipt),
        ),
    }),
    route({
      method: 'get',
      path: '/api/v1/refunds/:id',
      summary: 'A refund',
      tag: 'Refunds',
      roles: CASHIER,
      params: yup.object({ id: uuid().required() }),
      responses: { 200: json('Refund object', component('Refund')) },
      errors: [404],
      handler: async ({ params, auth, deps }) => getRefund(deps, auth, params.id),
    }),
  ];
}
