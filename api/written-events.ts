import type { Written } from '../core/events';

/** Far more orders than a shop keeps open; past it the oldest mark goes (never unbounded). */
const MAX_ORDERS = 10_000;

/**
 * How far this replica has written each open order's events (issue 10). Its next change to the
 * order says so, and the checkout stops repeating those events in its answers: each answer
 * carries only what is new, instead of every event since the last catch-up. Only a write that
 * committed is noted, so a mark never claims more than the database holds; a replica that never
 * wrote (a restart, another replica's order) says nothing and the answers repeat as before.
 */
export class WrittenEvents {
  private readonly byOrder = new Map<string, Written>();

  get(orderId: string): Written | undefined {
    return this.byOrder.get(orderId);
  }

  /** After a write of an order's events committed: kept unless a later write of the run got further. */
  note(orderId: string, written: Written): void {
    const known = this.byOrder.get(orderId);
    if (known?.runId === written.runId && known.through >= written.through) return;
    this.byOrder.delete(orderId); // re-inserted last: the oldest marks go first
    if (this.byOrder.size >= MAX_ORDERS) this.byOrder.delete(this.byOrder.keys().next().value!);
    this.byOrder.set(orderId, written);
  }

  /** The order ended: it takes no more changes. */
  forget(orderId: string): void {
    this.byOrder.delete(orderId);
  }
}
