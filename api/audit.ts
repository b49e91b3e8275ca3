import type { Knex } from 'knex';
import type { OrderSnapshot } from '../core/order';
import type { AppDeps, AuthContext } from './types';
import { getOrder } from './order-service';

/**
 * Audit rows for money- and permission-changing actions (`GET /api/v1/audit`). Table changes are
 * audited in the same transaction as the change; order changes (workflow Updates) once the
 * workflow has accepted them.
 */
export async function audit(
  db: Knex | Knex.Transaction,
  auth: AuthContext,
  action: string,
  subject: string | null,
  data?: unknown,
): Promise<void> {
  await db('audit_log').insert({
    location_id: auth.locationId,
    staff_id: auth.staffId,
    action,
    subject,
    ...(data === undefined ? {} : { data: JSON.stringify(data) }),
  });
}

/** Only the fields that changed, as {before, after}; null when nothing did (nothing to audit). */
export function changedFields<T extends object>(before: T, after: T): { before: Partial<T>; after: Partial<T> } | null {
  const keys = (Object.keys(after) as (keyof T)[]).filter(
    (k) => k !== 'updatedAt' && JSON.stringify(before[k]) !== JSON.stringify(after[k]),
  );
  if (!keys.length) return null;
  const pick = (o: T) => Object.fromEntries(keys.map((k) => [k, o[k]])) as Partial<T>;
  return { before: pick(before), after: pick(after) };
}

/**
 * Runs an order Update and audits it with the order as it was before and after. A repeated
 * request (same Idempotency-Key) returns the first outcome without a new version, and is not
 * audited twice.
 */
export async function auditedOrderUpdate(
  deps: AppDeps,
  auth: AuthContext,
  orderId: string,
  action: string,
  run: () => Promise<OrderSnapshot>,
  describe: (before: OrderSnapshot, after: OrderSnapshot) => Record<string, unknown>,
): Promise<OrderSnapshot> {
  const before = await getOrder(deps, auth, orderId);
  const after = await run();
  if (after.version > before.version) {
    await audit(deps.knex, auth, action, orderId, { orderNumber: after.orderNumber, ...describe(before, after) });
  }
  return after;
}

/** The money of an order an audit row records on each side of a change. */
export const orderMoney = (s: OrderSnapshot) => ({
  status: s.status,
  discount: s.totals.discount,
  total: s.totals.total,
  paid: s.totals.paid,
  balance: s.totals.balance,
});
