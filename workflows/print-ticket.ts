import { ApplicationFailure, proxyActivities, setCurrentDetails, sleep, workflowInfo } from '@temporalio/workflow';
import type { PrintJob } from '../activities/printing/types';
import type { PrintingActivities } from '../activities/printing/activities';
import type { OrderActivities } from '../activities/orders';
import { printingTaskQueue, topic } from '../core/events';

export interface PrintRequest {
  role: 'kitchen' | 'receipt';
  job: PrintJob;
}

export interface PrintOptions {
  /** Attempts per printer before giving up (with backoff between them). */
  maxAttempts?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

const { resolvePrinters, publishOrderEvents } = proxyActivities<OrderActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumInterval: '10 seconds' },
});

/**
 * Prints one ticket on every enabled printer of its role, on the location's own task queue (a
 * worker on the shop's LAN owns the printers). An unreachable printer is retried with backoff
 * and reported on the location's orders topic; printing never blocks payment or closing, which
 * is why checkout starts this as an abandoned child. One attempt sends one ticket: a fresh
 * printer buffer per attempt, so a retry never reprints an earlier ticket.
 */
export async function printTicket(req: PrintRequest & { locationId: string; options?: PrintOptions }): Promise<{ printed: string[]; failed: string[] }> {
  const printers = await resolvePrinters({ locationId: req.locationId, role: req.role });
  const { sendToPrinter } = proxyActivities<PrintingActivities>({
    taskQueue: printingTaskQueue(req.locationId),
    startToCloseTimeout: '20 seconds',
    // Nobody on the shop's LAN is polling: report it like an unreachable printer.
    scheduleToStartTimeout: '2 minutes',
    retry: { maximumAttempts: 1 },
  });
  const maxAttempts = req.options?.maxAttempts ?? 30;
  const maxBackoff = req.options?.maxBackoffMs ?? 60_000;
  const printed: string[] = [];
  const failed: string[] = [];

  await Promise.all(
    printers.map(async (printer) => {
      let backoff = req.options?.initialBackoffMs ?? 2000;
      for (let attempt = 1; ; attempt++) {
        try {
          await sendToPrinter({ address: printer.address, job: req.job });
          printed.push(printer.id);
          return;
        } catch (err) {
          const reason = (err as ApplicationFailure).cause?.message ?? (err as Error).message;
          setCurrentDetails(`printer ${printer.name} (${printer.address}) failed ${attempt}x: ${reason}`);
          if (attempt === 1 || attempt === maxAttempts) {
            await publishOrderEvents({
              orderId: req.job.kind === 'kitchen' ? req.job.ticket.orderId : req.job.kind === 'receipt' ? req.job.receipt.orderId : req.job.ticket.orderId,
              locationId: req.locationId,
              events: [
                {
                  event: 'printer.failed',
                  version: 0,
                  topics: [topic.orders(req.locationId)],
                  data: { printerId: printer.id, name: printer.name, kind: req.job.kind, attempt, giveUp: attempt === maxAttempts, reason },
                },
              ],
              dedupeKey: `${workflowInfo().workflowId}:${printer.id}:${attempt}`,
            });
          }
          if (attempt >= maxAttempts) {
            failed.push(printer.id);
            return;
          }
          await sleep(backoff);
          backoff = Math.min(backoff * 2, maxBackoff);
        }
      }
    }),
  );
  setCurrentDetails(`printed on ${printed.length} printer(s)${failed.length ? `, failed on ${failed.length}` : ''}`);
  return { printed, failed };
}
