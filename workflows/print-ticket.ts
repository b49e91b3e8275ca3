import {
  ApplicationFailure,
  patched,
  proxyActivities,
  setCurrentDetails,
  sleep,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { PrintJob } from '../activities/printing/types';
import type { PrintingActivities } from '../activities/printing/activities';
import type { RoutedPrinter, StationActivities } from '../activities/printing/stations';
import type { OrderActivities } from '../activities/orders';
import { printingTaskQueue, topic } from '../core/events';
import { splitForStations } from '../core/stations';
import { PRINTER_FAILURE_TYPES } from '../core/failures';

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

type Request = PrintRequest & { locationId: string; options?: PrintOptions };

const { resolvePrinters, publishOrderEvents } = proxyActivities<OrderActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumInterval: '10 seconds' },
});
const { itemCategories, resolveBackupPrinter } = proxyActivities<StationActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumInterval: '10 seconds' },
});

const orderIdOf = (job: PrintJob) =>
  job.kind === 'receipt' ? job.receipt.orderId : job.kind === 'drawerKick' ? job.orderId : job.ticket.orderId;

/** How one printer's attempts ended: printed, or given up (and whether any attempt may have printed). */
type Outcome = { printed: true } | { printed: false; fateUnknown: boolean };

/**
 * Prints one ticket on every enabled printer of its role, on the location's own task queue (a
 * worker on the shop's LAN owns the printers). A kitchen ticket is split per station (see
 * core/stations.ts). An unreachable printer is retried with backoff and reported on the
 * location's orders topic; once it has had its attempts its ticket moves along its backup chain
 * (`printer.failover`). Printing never blocks payment or closing, which is why checkout starts
 * this as an abandoned child. One attempt sends one ticket: a fresh printer buffer per attempt,
 * so a retry never reprints an earlier ticket.
 */
export async function printTicket(req: Request): Promise<{ printed: string[]; failed: string[] }> {
  const printers = await resolvePrinters({ locationId: req.locationId, role: req.role });
  const printed: string[] = [];
  const failed: string[] = [];
  const routes = await route(req, printers);
  await Promise.all(
    routes.map(async ({ printer, job }) => {
      const at = await printWithFailover(req, printer, job);
      (at ? printed : failed).push(at ?? printer.id);
    }),
  );
  setCurrentDetails(`printed on ${printed.length} printer(s)${failed.length ? `, failed on ${failed.length}` : ''}`);
  return { printed, failed };
}

/** Which printer prints what: each station its categories' lines; without stations all of it everywhere. */
async function route(req: Request, printers: RoutedPrinter[]): Promise<{ printer: RoutedPrinter; job: PrintJob }[]> {
  const job = req.job;
  const hasStations = printers.some((p) => (p.categoryIds?.length ?? 0) > 0);
  // Without stations the ticket goes to every printer, as before stations existed: no extra step.
  if (job.kind !== 'kitchen' || !hasStations || !patched('kitchen-stations'))
    return printers.map((printer) => ({ printer, job }));
  const categories = await itemCategories({
    locationId: req.locationId,
    itemIds: job.ticket.lines.flatMap((l) => (l.itemId ? [l.itemId] : [])),
  });
  return splitForStations(printers, job.ticket.lines, (l) => (l.itemId ? categories[l.itemId] : null)).map((s) => ({
    printer: s.printer,
    job: { kind: 'kitchen', ticket: { ...job.ticket, lines: s.lines } },
  }));
}

/**
 * Prints on `first`, then along its backup chain (never a printer twice). The backup's copy is
 * marked COPY once any printer before it may have printed the ticket (raw port 9100 gives no
 * acknowledgement); after a refused connection nothing was printed, so the backup's is the one.
 * Returns the printer that printed it, or undefined when the whole chain failed.
 */
async function printWithFailover(req: Request, first: RoutedPrinter, job: PrintJob): Promise<string | undefined> {
  const tried = [first.id];
  let fateUnknown = false;
  for (let printer = first; ;) {
    const outcome = await printOn(req, printer, job, fateUnknown);
    if (outcome.printed) return printer.id;
    fateUnknown ||= outcome.fateUnknown;
    if (!printer.backupPrinterId || !patched('printer-failover')) return undefined;
    const backup = await resolveBackupPrinter({
      locationId: req.locationId,
      printerId: printer.backupPrinterId,
      exclude: tried,
    });
    if (!backup) return undefined;
    await publish(req, 'printer.failover', `failover:${printer.id}:${backup.id}`, {
      fromPrinterId: printer.id,
      fromName: printer.name,
      toPrinterId: backup.id,
      toName: backup.name,
      kind: job.kind,
      copy: fateUnknown,
    });
    tried.push(backup.id);
    printer = backup;
  }
}

/** The attempts on one printer, with backoff, reporting the first failure and the last. */
async function printOn(req: Request, printer: RoutedPrinter, job: PrintJob, copy: boolean): Promise<Outcome> {
  const { sendToPrinter } = proxyActivities<PrintingActivities>({
    taskQueue: printingTaskQueue(req.locationId),
    startToCloseTimeout: '20 seconds',
    // Nobody on the shop's LAN is polling: report it like an unreachable printer.
    scheduleToStartTimeout: '2 minutes',
    retry: { maximumAttempts: 1 },
  });
  const maxAttempts = req.options?.maxAttempts ?? 30;
  const maxBackoff = req.options?.maxBackoffMs ?? 60_000;
  let backoff = req.options?.initialBackoffMs ?? 2000;
  let fateUnknown = false;
  for (let attempt = 1; ; attempt++) {
    // An earlier attempt here may have printed it (the printer vanished mid-ticket, or the worker
    // died while sending): this one is a COPY. Runs from before reprinted it unmarked: patched().
    const marked = copy || (fateUnknown && patched('copy-after-unknown-attempt'));
    try {
      // Before failover existed the activity had no `copy`: leave it out unless it is one.
      await sendToPrinter({ address: printer.address, job, ...(marked ? { copy: true } : {}) });
      return { printed: true };
    } catch (err) {
      const cause = (err as ApplicationFailure).cause as ApplicationFailure | undefined;
      fateUnknown ||= cause?.type === PRINTER_FAILURE_TYPES.fateUnknown || diedWhileSending(cause);
      const reason = cause?.message ?? (err as Error).message;
      setCurrentDetails(`printer ${printer.name} (${printer.address}) failed ${attempt}x: ${reason}`);
      if (attempt === 1 || attempt === maxAttempts) {
        await publish(req, 'printer.failed', `${printer.id}:${attempt}`, {
          printerId: printer.id,
          name: printer.name,
          kind: job.kind,
          attempt,
          giveUp: attempt === maxAttempts,
          reason,
        });
      }
      if (attempt >= maxAttempts) return { printed: false, fateUnknown };
      await sleep(backoff);
      backoff = Math.min(backoff * 2, maxBackoff);
    }
  }
}

/** The attempt started but never reported (its worker died mid-send): part or all of it may have printed. */
function diedWhileSending(cause: unknown): boolean {
  return cause instanceof TimeoutFailure && cause.timeoutType === 'START_TO_CLOSE';
}

/** An event on the location's orders topic about this print job (no order version: not gap-checked). */
async function publish(
  req: Request,
  event: 'printer.failed' | 'printer.failover',
  key: string,
  data: Record<string, unknown>,
): Promise<void> {
  await publishOrderEvents({
    orderId: orderIdOf(req.job),
    locationId: req.locationId,
    events: [
      { event, version: 0, topics: [topic.orders(req.locationId)], data: { ...data, orderId: orderIdOf(req.job) } },
    ],
    dedupeKey: `${workflowInfo().workflowId}:${key}`,
  });
}
