import * as yup from 'yup';
import { createHash, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { content, json, route, CASHIER } from '../route';
import { conflict, notFound, unavailable } from '../errors';
import { idempotencyKey } from '../idempotency';
import { idParams } from '../validation';
import { object } from '../openapi-schemas';
import { loadReceipt } from '../../db/receipts';
import { renderReceiptPdf } from '../../platform/receipt-pdf';
import { workflowIds } from '../../core/events';
import type { AppDeps, AuthContext } from '../types';

/** The order's receipt data: 404 for an order of another location, 409 while it has no receipt. */
async function receiptOf(deps: AppDeps, auth: AuthContext, orderId: string) {
  const receipt = await loadReceipt(deps.knex, orderId, auth.locationId);
  if (!receipt) throw notFound('Order');
  if (!receipt.sold) throw conflict('Only a sold order (closed, refunded or not) has a receipt');
  return receipt;
}

/** The same key always names the same e-mail (workflow id), whatever characters it holds. */
const emailIdOf = (key: string | undefined) =>
  key ? createHash('sha256').update(key).digest('hex').slice(0, 32) : randomUUID();

export function receiptsRoutes() {
  return [
    route({
      method: 'get',
      path: '/api/v1/orders/:id/receipt.pdf',
      summary:
        'The receipt of a sold order as a PDF: shop, order and receipt number, local time, lines with modifiers, discounts, tax, tips, ' +
        'payments, refunds and totals in the location currency. layout=receipt (80 mm roll, default) or a4 (invoice). 409 while the order has no receipt (open, cancelled).',
      tag: 'Orders',
      roles: CASHIER,
      params: idParams,
      query: yup.object({ layout: yup.string().oneOf(['receipt', 'a4']).default('receipt') }),
      responses: { 200: content('The PDF', 'application/pdf', { type: 'string', format: 'binary' }) },
      errors: [409],
      handler: async ({ params, query, auth, deps, ctx }) => {
        const receipt = await receiptOf(deps, auth, params.id);
        ctx.type = 'application/pdf';
        ctx.set(
          'Content-Disposition',
          `inline; filename="receipt-${receipt.order.receiptNumber ?? receipt.order.orderNumber}.pdf"`,
        );
        return renderReceiptPdf(receipt, query.layout as 'receipt' | 'a4');
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/orders/:id/receipt/email',
      summary:
        'E-mails the receipt PDF of a sold order to `to` through the SMTP server of SMTP_URL (sender SMTP_FROM): 202 once queued; the send is retried ' +
        'durably with backoff (workflow emailReceipt, id receipt-email-<orderId>-<emailId>). A repeat with the same Idempotency-Key sends nothing more. ' +
        '409 while the order has no receipt; 503 when no SMTP server is configured.',
      tag: 'Orders',
      roles: CASHIER,
      params: idParams,
      body: yup.object({ to: yup.string().trim().email().max(254).required() }).noUnknown(),
      responses: {
        202: json(
          '{emailId, orderId, to, status: "queued"}',
          object({
            emailId: { type: 'string' },
            orderId: { type: 'string', format: 'uuid' },
            to: { type: 'string' },
            status: { type: 'string', const: 'queued' },
          }),
        ),
      },
      errors: [409, 503],
      handler: async ({ params, body, auth, deps, ctx }) => {
        await receiptOf(deps, auth, params.id);
        if (!deps.config.smtp) throw unavailable('E-mail receipts need an SMTP server: set SMTP_URL (and SMTP_FROM)');
        const emailId = emailIdOf(idempotencyKey(ctx));
        try {
          await deps.temporal.workflow.start('emailReceipt', {
            taskQueue: deps.config.taskQueue,
            workflowId: workflowIds.receiptEmail(params.id, emailId),
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            args: [{ orderId: params.id, locationId: auth.locationId, to: body.to, emailId }],
          });
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; // the same key: already queued or sent
        }
        ctx.status = 202;
        return { emailId, orderId: params.id, to: body.to, status: 'queued' };
      },
    }),
  ];
}
