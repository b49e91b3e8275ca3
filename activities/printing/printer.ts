/**
 * Sends one ticket to an ESC/POS network printer (raw TCP, usually port 9100).
 *
 * Every call builds a fresh node-thermal-printer instance: the library keeps its
 * byte buffer after execute(), so a reused instance would reprint every earlier
 * ticket. No module state, so this is safe to call from concurrent Temporal
 * activities; a rejection is meant to be retried by the activity's retry policy.
 */
import { CharacterSet, PrinterTypes, ThermalPrinter } from 'node-thermal-printer';
import { renderKitchenTicket, renderOrderNumberTicket, renderReceipt } from './tickets';
import type { PrintJob } from './types';
import { parsePrinterAddress } from '../../core/printer-address';

export type { PrintJob } from './types';

export const DEFAULT_PRINT_TIMEOUT_MS = 3000;
/** Characters per line: font A on 80 mm paper. */
export const PAPER_WIDTH = 48;

const INIT = Buffer.from([0x1b, 0x40]); // ESC @ (initHardware() exists but is missing from the .d.ts)
const FULL_CUT = Buffer.from([0x1d, 0x56, 0x00]); // GS V 0

/** Thrown when the printer refuses, drops or does not answer the connection in time. */
export class PrinterUnavailableError extends Error {
  override name = 'PrinterUnavailableError';
}

function render(printer: ThermalPrinter, job: PrintJob): void {
  switch (job.kind) {
    case 'kitchen':
      return renderKitchenTicket(printer, job.ticket);
    case 'receipt':
      return renderReceipt(printer, job.receipt);
    case 'orderNumber':
      return renderOrderNumberTicket(printer, job.ticket);
    default:
      throw new Error(`Unknown print job kind: ${JSON.stringify((job as { kind?: unknown }).kind)}`);
  }
}

/** The bytes of one job (ESC @, code page, ticket, feed, full cut) on a fresh instance; getBuffer() previews them. */
export function buildJob(address: string, job: PrintJob, timeoutMs = DEFAULT_PRINT_TIMEOUT_MS): ThermalPrinter {
  const { host, port } = parsePrinterAddress(address);
  // No characterSet in the constructor: it would emit ESC t before our ESC @ reset.
  const printer = new ThermalPrinter({
    type: PrinterTypes.EPSON,
    interface: `tcp://${host}:${port}`,
    width: PAPER_WIDTH,
    options: { timeout: timeoutMs },
  });
  printer.add(INIT); // drop any mode a previous (maybe aborted) job left behind
  printer.setCharacterSet(CharacterSet.PC437_USA); // ESC t 0; other code pages are switched to per character
  render(printer, job);
  // printer.cut() would also append ESC @ after the cut; we end the job on the cut itself.
  printer.printVerticalTab(); // ESC d 4, twice: move the last line past the cutter
  printer.printVerticalTab();
  printer.add(FULL_CUT);
  return printer;
}

export async function printJob(
  address: string,
  job: PrintJob,
  opts: { timeoutMs?: number } = {},
): Promise<{ bytes: number }> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PRINT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`printJob timeoutMs must be a positive number, got ${timeoutMs}`);
  }
  const printer = buildJob(address, job, timeoutMs);
  const bytes = printer.getBuffer().length;

  // The library's own timeout is a socket idle timeout; this bounds the whole send.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([printer.execute(), deadline]);
  } catch (error) {
    // Not `instanceof Error`: under jest, errors from Node's net module come from another realm.
    const message = String((error as { message?: unknown } | null)?.message ?? error);
    const reason = message === 'Socket timeout' ? `no answer within ${timeoutMs} ms` : message;
    throw new PrinterUnavailableError(`Printer ${address} is unreachable: ${reason}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  return { bytes };
}
