import { proxyActivities } from '@temporalio/workflow';
import type { ReceiptEmailActivities, ReceiptEmailRequest } from '../activities/receipt-email';
import { EMAIL_FAILURE_TYPES } from '../core/failures';

/**
 * One e-mailed receipt (workflow id `receipt-email-<orderId>-<key>`): the send is retried with
 * backoff while the SMTP server is down or refuses for now (2 s doubling to 5 min, for about a
 * day), so a receipt asked for during an outage still goes out once the server is back. A
 * permanent refusal (5xx, e.g. an unknown mailbox) fails the workflow at once, visibly.
 */
const { sendReceiptEmail } = proxyActivities<ReceiptEmailActivities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '5m',
    maximumAttempts: 300,
    nonRetryableErrorTypes: [EMAIL_FAILURE_TYPES.rejected],
  },
});

export async function emailReceipt(req: ReceiptEmailRequest): Promise<{ messageId: string }> {
  return sendReceiptEmail(req);
}
