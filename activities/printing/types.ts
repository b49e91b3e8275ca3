/**
 * Data printed on ESC/POS tickets. Plain serialisable objects: they travel as
 * Temporal activity arguments. Money is integer minor units of `currency`;
 * discount amounts are positive numbers that reduce the total.
 */

import type { Totals } from '../../core/pricing';

export interface KitchenTicketLine {
  /** Decides the kitchen station (by the item's category); absent on tickets from before stations. */
  itemId?: string;
  name: string;
  quantity: number;
  modifiers: string[];
  note?: string | null;
  /** On amendment tickets: what became of a line the kitchen already had. */
  change?: 'amended' | 'void';
  /** On amendment tickets: the quantity the kitchen had, when it changed. */
  previousQuantity?: number;
}

export interface KitchenTicket {
  orderId: string;
  orderNumber: number;
  type: 'dine_in' | 'takeaway';
  table?: string | null;
  customerName?: string | null;
  staffName?: string | null;
  /** Printed as given: pass it already formatted in the location's time zone if you can. */
  createdAt: string;
  lines: KitchenTicketLine[];
  /** Changes to lines sent before (headed AMENDMENT), not new lines. */
  amendment?: boolean;
}

export interface ReceiptLine {
  name: string;
  quantity: number;
  unitPrice: number;
  modifiers: { name: string; price: number }[];
  total: number;
}

/** The order's totals as the one pricing function computes them. */
export type ReceiptTotals = Totals;

export interface ReceiptPayment {
  method: string;
  amount: number;
  tip: number;
  fee: number;
  change?: number;
}

export interface Receipt {
  orderId: string;
  orderNumber: number;
  /** The per-location receipt number (absent on receipts of orders closed before numbering). */
  receiptNumber?: number;
  locationName: string;
  currency: string;
  createdAt: string;
  closedAt?: string | null;
  staffName?: string | null;
  lines: ReceiptLine[];
  discounts: { name: string; amount: number }[];
  totals: ReceiptTotals;
  taxInclusive: boolean;
  payments: ReceiptPayment[];
}

export interface OrderNumberTicket {
  orderId: string;
  orderNumber: number;
  locationName: string;
}

export type PrintJob =
  | { kind: 'kitchen'; ticket: KitchenTicket }
  /** `kick`: open the cash drawer (ESC/POS pulse) before printing: the cash payment that closed the order. */
  | { kind: 'receipt'; receipt: Receipt; kick?: boolean }
  | { kind: 'orderNumber'; ticket: OrderNumberTicket }
  /** Only the drawer-kick pulse (a cash payment that did not close the order): nothing printed, no cut. */
  | { kind: 'drawerKick'; orderId: string };
