import { ApplicationFailure } from '@temporalio/activity';
import { printJob } from './printer';
import { InvalidPrinterAddressError } from '../../core/printer-address';
import type { PrintJob } from './types';

/** Activities for the per-location printing task queue: they need the shop's LAN, nothing else. */
export function printingActivities() {
  return {
    /** `copy`: a backup printer's ticket that the first printer may have printed already. */
    async sendToPrinter(req: { address: string; job: PrintJob; copy?: boolean }): Promise<{ bytes: number }> {
      try {
        return await printJob(req.address, req.job, { copy: req.copy });
      } catch (err) {
        if (err instanceof InvalidPrinterAddressError) {
          throw ApplicationFailure.nonRetryable(err.message, 'InvalidPrinterAddress');
        }
        throw err;
      }
    },
  };
}
export type PrintingActivities = ReturnType<typeof printingActivities>;
