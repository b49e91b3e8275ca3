/**
 * Sends one ticket to an ESC/POS network printer (raw TCP, usually port 9100).
 *
 * Every call builds a fresh node-thermal-printer instance: the library keeps its
 * byte buffer after execute(), so a reused instance would reprint every earlier
 * ticket. No module state, so this is safe to call from concurrent Temporal
 * activities; a rejection is meant to be retried by the activity's retry policy.
 */
import net from 'node:net';
import { CharacterSet, PrinterTypes, ThermalPrinter } from 'node-thermal-printer';
import { renderCopyBanner, renderKitchenTicket, renderOrderNumberTicket, renderReceipt } from './tickets';
import type { PrintJob } from './types';
import { parsePrinterAddress } from '../../core/printer-address';
import { PRINTER_FAILURE_TYPES } from '../../core/failures';

export const DEFAULT_PRINT_TIMEOUT_MS = 3000;
/** Characters per line: font A on 80 mm paper. */
export const PAPER_WIDTH = 48;

const INIT = Buffer.from([0x1b, 0x40]); // ESC @ (initHardware() exists but is missing from the .d.ts)
const FULL_CUT = Buffer.from([0x1d, 0x56, 0x00]); // GS V 0
/** ESC p 0 25 250: a pulse on drawer pin 2 (50 ms on, 500 ms off) that opens the cash drawer. */
export const DRAWER_KICK = Buffer.from([0x1b, 0x70, 0x00, 0x19, 0xfa]);

/** Thrown when the printer refuses or does not answer the connection in time: nothing printed. */
export class PrinterUnavailableError extends Error {
  override name: string = PRINTER_FAILURE_TYPES.unavailable;
}

/** Thrown when the connection failed after it was up: the ticket may have printed, in part or whole. */
export class PrinterFateUnknownError extends PrinterUnavailableError {
  override name: string = PRINTER_FAILURE_TYPES.fateUnknown;
}

function render(printer: ThermalPrinter, job: PrintJob): void {
  switch (job.kind) {
    case 'kitchen':
      return renderKitchenTicket(printer, job.ticket);
    case 'receipt':
      return renderReceipt(printer, job.receipt);
    case 'orderNumber':
      return renderOrderNumberTicket(printer, job.ticket);
    case 'drawerKick':
      return;
    default:
      throw new Error(`Unknown print job kind: ${JSON.stringify((job as { kind?: unknown }).kind)}`);
  }
}

/** The bytes of one job (ESC @, code page, ticket, feed, full cut) on a fresh instance; getBuffer() previews them. */
export function buildJob(
  address: string,
  job: PrintJob,
  timeoutMs = DEFAULT_PRINT_TIMEOUT_MS,
  copy = false,
): ThermalPrinter {
  const { host, port } = parsePrinterAddress(address);
  // No characterSet in the constructor: it would emit ESC t before our ESC @ reset.
  const printer = new ThermalPrinter({
    type: PrinterTypes.EPSON,
    interface: `tcp://${host}:${port}`,
    width: PAPER_WIDTH,
    options: { timeout: timeoutMs },
  });
  printer.add(INIT); // drop any mode a previous (maybe aborted) job left behind
  if (job.kind === 'drawerKick' || (job.kind === 'receipt' && job.kick)) printer.add(DRAWER_KICK);
  if (job.kind === 'drawerKick') return printer; // no paper moves for a drawer kick
  printer.setCharacterSet(CharacterSet.PC437_USA); // ESC t 0; other code pages are switched to per character
  if (copy) renderCopyBanner(printer);
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
  opts: { timeoutMs?: number; copy?: boolean } = {},
): Promise<{ bytes: number }> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PRINT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`printJob timeoutMs must be a positive number, got ${timeoutMs}`);
  }
  const bytes = buildJob(address, job, timeoutMs, opts.copy).getBuffer();
  const { host, port } = parsePrinterAddress(address);
  await sendBytes(address, host, port, bytes, timeoutMs);
  return { bytes: bytes.length };
}

/**
 * Writes one job on its own connection and closes it gracefully. Not node-thermal-printer's
 * execute(): it resolves as soon as the bytes are queued locally, so a printer that resets the
 * connection mid-ticket looked like a success. Here a failure before the connection is up
 * means nothing printed (PrinterUnavailableError); one after it means part or all of the
 * ticket may have printed (PrinterFateUnknownError), which is what decides whether a backup
 * printer's copy is marked COPY. A printer that keeps the connection open after taking every
 * byte (no FIN back within the timeout) counts as printed, as raw port 9100 promises no more.
 */
function sendBytes(address: string, host: string, port: number, bytes: Buffer, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let connected = false;
    let flushed = false;
    let settled = false;
    const socket = net.connect({ host, port });
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (!error) return resolve();
      // Not `instanceof Error`: under jest, errors from Node's net module come from another realm.
      const reason = String((error as { message?: unknown } | null)?.message ?? error);
      reject(
        connected
          ? new PrinterFateUnknownError(`Printer ${address} stopped answering mid-ticket: ${reason}`, { cause: error })
          : new PrinterUnavailableError(`Printer ${address} is unreachable: ${reason}`, { cause: error }),
      );
    };
    const timer = setTimeout(
      () => settle(flushed ? undefined : new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once('connect', () => {
      connected = true;
      socket.end(bytes, () => {
        flushed = true;
      });
    });
    socket.resume(); // read (and drop) whatever the printer says, so its FIN is seen
    socket.once('error', (error) => settle(error));
    socket.once('close', (hadError) =>
      settle(
        hadError
          ? new Error('connection reset')
          : flushed
            ? undefined
            : new Error('connection closed before the ticket was sent'),
      ),
    );
  });
}
