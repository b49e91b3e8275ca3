import type { OrderSnapshot } from './order';

/** Everything a PDF receipt shows, read from the closed order's stored snapshot and its refunds. */
export interface ReceiptDocument {
  order: OrderSnapshot;
  locationName: string;
  timezone: string;
  taxInclusive: boolean;
  staffName: string | null;
  refunds: { amount: number; method: string | null; reason: string; settledAt: string }[];
}
