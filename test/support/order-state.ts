import { randomUUID } from 'node:crypto';
import type { Harness } from './harness';
import { eventsWrittenBy } from './history';

/**
 * Checkout states built by hand, for starting an order workflow in a state the API would never
 * build (the attacks on money bounds), and the checks those tests share.
 */

/** One line of a hand-built state: `quantity` of the shop's item `name` at `unitPrice`. */
export function stateLine(h: Harness, name: string, quantity: number, unitPrice: number, trackStock: boolean) {
  return {
    id: randomUUID(),
    itemId: h.shop.items[name],
    name,
    quantity,
    unitPrice,
    modifiers: [],
    note: null,
    trackStock,
    sentQuantity: 0,
    rules: [],
  };
}

/** An open takeaway order of the demo café (USD) with these lines and payments, as the checkout keeps it. */
export function openOrderState(
  h: Harness,
  id: string,
  parts: { lines: unknown[]; payments?: unknown[]; taxRate?: number },
) {
  return orderStateAt({ locationId: h.shop.locationId, staffId: h.shop.staff['Cashier']! }, id, parts);
}

/** The same open takeaway order (USD, no auto-print) at any location, e.g. one without a database. */
export function orderStateAt(
  at: { locationId: string; staffId: string; locationName?: string },
  id: string,
  parts: { lines: unknown[]; payments?: unknown[]; taxRate?: number },
) {
  const now = new Date().toISOString();
  return {
    id,
    locationId: at.locationId,
    staffId: at.staffId,
    terminalId: null,
    type: 'takeaway',
    table: null,
    customerName: null,
    orderNumber: null,
    status: 'open',
    kitchenStatus: 'not_sent',
    version: 0,
    lines: parts.lines,
    discounts: [],
    payments: parts.payments ?? [],
    refunded: 0,
    settings: {
      locationName: at.locationName ?? 'Demo Café',
      currency: 'USD',
      timezone: 'UTC',
      taxRate: parts.taxRate ?? 0,
      taxInclusive: false,
      serviceChargeRate: 0,
      cardFee: { enabled: false, rate: 0, min: 0 },
      discountsEnabled: true,
      autoPrint: { receipt: false, kitchen: false, orderNumber: false },
    },
    createdAt: now,
    updatedAt: now,
    closedAt: null,
    cancelReason: null,
  };
}

/** Runs fn and asserts the order's workflow history did not grow (the rejection wrote nothing). */
export async function withoutTrace(h: Harness, orderId: string, fn: () => Promise<void>): Promise<void> {
  expect(await eventsWrittenBy(h.deps.temporal, orderId, fn)).toEqual([]);
}

/** Calls fn every `everyMs` until it gives something other than undefined; throws after timeoutMs. */
export async function pollDefined<T>(fn: () => Promise<T | undefined>, timeoutMs: number, everyMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
