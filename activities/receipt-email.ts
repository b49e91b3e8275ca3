import { ApplicationFailure } from '@temporalio/common';
import { createTransport } from 'nodemailer';
import type { ActivityDeps } from './deps';
import { loadReceipt } from '../db/receipts';
import { renderReceiptPdf } from '../platform/receipt-pdf';
import { EMAIL_FAILURE_TYPES } from '../core/failures';

export interface ReceiptEmailRequest {
  orderId: string;
  locationId: string;
  to: string;
  /** Also the Message-ID's local part: the same e-mail, however often it is retried. */
  emailId: string;
}

export function receiptEmailActivities({ knex, smtp }: ActivityDeps) {
  return {
    /** Sends the receipt of a sold order as a PDF attachment through SMTP_URL. */
    async sendReceiptEmail(req: ReceiptEmailRequest): Promise<{ messageId: string }> {
      if (!smtp)
        throw ApplicationFailure.retryable(
          'SMTP_URL is not configured on this worker',
          EMAIL_FAILURE_TYPES.notConfigured,
        );
      const receipt = await loadReceipt(knex, req.orderId, req.locationId);
      if (!receipt?.sold)
        throw ApplicationFailure.nonRetryable(`order ${req.orderId} has no receipt`, EMAIL_FAILURE_TYPES.noReceipt);
      const pdf = await renderReceiptPdf(receipt);
      const number = receipt.order.receiptNumber ?? receipt.order.orderNumber;
      const messageId = `<receipt-${req.emailId}@tillflow>`;
      const transport = createTransport(smtp.url);
      try {
        await transport.sendMail({
          from: smtp.from,
          to: req.to,
          messageId,
          subject: `Your receipt from ${receipt.locationName} (no. ${number})`,
          text: `Thank you for your visit to ${receipt.locationName}. Your receipt no. ${number} is attached.`,
          attachments: [{ filename: `receipt-${number}.pdf`, content: pdf, contentType: 'application/pdf' }],
        });
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode;
        if (code !== undefined && code >= 500)
          throw ApplicationFailure.create({
            type: EMAIL_FAILURE_TYPES.rejected,
            message: (err as Error).message,
            nonRetryable: true,
          });
        throw err;
      } finally {
        transport.close();
      }
      return { messageId };
    },
  };
}

export type ReceiptEmailActivities = ReturnType<typeof receiptEmailActivities>;
