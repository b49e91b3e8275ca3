/**
 * Seating orders at tables and naming their customers, for the order routes: the API resolves
 * and claims; the checkout workflow only records the ids and labels it is given.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { workflowIds } from '../core/events';
import { claimTable, dropClaim, releaseTableClaim } from '../db/floor';
import * as msg from '../core/messages';
import type * as order from '../core/order';
import type { OrderSnapshot } from '../core/order';
import { ApiError, conflict, fieldError } from './errors';
import { getOrder, updateOrder } from './order-service';
import type { AppDeps, AuthContext } from './types';

/** A claim this old whose workflow never started was left by an API that died in between. */
const ORPHAN_CLAIM_MS = 60_000;

export async function findTable(
  deps: AppDeps,
  auth: AuthContext,
  tableId: string,
): Promise<{ id: string; name: string }> {
  const t = await deps
    .knex('tables')
    .where({ id: tableId, location_id: auth.locationId })
    .first('id', 'name', 'active');
  if (!t) throw fieldError('tableId', 'No such table in this location');
  if (!t.active) throw fieldError('tableId', `Table ${t.name} is not in use`);
  return t;
}

export async function findCustomer(
  deps: AppDeps,
  auth: AuthContext,
  customerId: string,
): Promise<{ id: string; name: string }> {
  const c = await deps.knex('customers').where({ id: customerId, location_id: auth.locationId }).first('id', 'name');
  if (!c) throw fieldError('customerId', 'No such customer in this location');
  return c;
}

/**
 * Claims the table for the order, or answers 409 with the order that holds it. Whoever's claim
 * Postgres lets in first wins; the other gets `existingOrderId` to open instead.
 */
export async function seatOrder(
  deps: AppDeps,
  auth: AuthContext,
  orderId: string,
  tableId: string,
  newCheck: boolean,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const outcome = await deps.knex.transaction((trx) =>
      claimTable(trx, { orderId, locationId: auth.locationId, tableId, newCheck }),
    );
    if (outcome.ok) return;
    if (attempt === 0 && (await isOrphan(deps, outcome.existingOrderId, outcome.claimedAt))) {
      await dropClaim(deps.knex, outcome.existingOrderId);
      continue;
    }
    throw new ApiError(
      409,
      'CONFLICT',
      'This table already has an open order: open it, or ask for a new check',
      undefined,
      undefined,
      {
        existingOrderId: outcome.existingOrderId,
      },
    );
  }
}

async function isOrphan(deps: AppDeps, orderId: string, claimedAt: Date): Promise<boolean> {
  if (Date.now() - claimedAt.getTime() < ORPHAN_CLAIM_MS) return false;
  try {
    await deps.temporal.workflow.getHandle(workflowIds.order(orderId)).describe();
    return false;
  } catch (err) {
    return err instanceof WorkflowNotFoundError;
  }
}

/** Frees the order's table (it left the floor, or its create was refused). */
export async function unseatOrder(deps: AppDeps, orderId: string): Promise<void> {
  await deps.knex.transaction((trx) => releaseTableClaim(trx, orderId));
}

export interface OrderPatch {
  type?: 'dine_in' | 'takeaway';
  table?: string | null;
  customerName?: string | null;
  tableId?: string | null;
  customerId?: string | null;
}

/**
 * PATCH /orders/:id. A move claims the new table first (409 with `existingOrderId` when another
 * order holds it), then tells the order; an order that refuses (closed meanwhile) gets its old
 * seat back. A customer's name fills `customerName` unless one is given.
 */
export async function patchOrder(
  deps: AppDeps,
  auth: AuthContext,
  orderId: string,
  body: OrderPatch,
  key?: string,
): Promise<OrderSnapshot> {
  const details: order.OrderDetailsRequest = { ...body };
  if (body.customerId)
    details.customerName = body.customerName ?? (await findCustomer(deps, auth, body.customerId)).name;
  if (body.tableId === undefined) return updateOrder(deps, auth, orderId, msg.setDetailsUpdate, details, key);
  const before = await getOrder(deps, auth, orderId);
  if (before.status !== 'open') throw conflict(`Order is ${before.status}`);
  const previous = await deps
    .knex('table_claims')
    .where({ order_id: orderId })
    .whereNull('released_at')
    .first('table_id', 'new_check');
  if (body.tableId) {
    const table = await findTable(deps, auth, body.tableId);
    details.table = body.table ?? table.name;
    await seatOrder(deps, auth, orderId, table.id, false);
  } else {
    details.table = body.table ?? null;
  }
  try {
    const after = await updateOrder(deps, auth, orderId, msg.setDetailsUpdate, details, key);
    if (!body.tableId) await unseatOrder(deps, orderId);
    return after;
  } catch (err) {
    if (body.tableId) await restoreSeat(deps, auth, orderId, previous);
    throw err;
  }
}

async function restoreSeat(
  deps: AppDeps,
  auth: AuthContext,
  orderId: string,
  previous?: { table_id: string; new_check: boolean },
): Promise<void> {
  if (!previous) return unseatOrder(deps, orderId);
  await deps.knex.transaction((trx) =>
    claimTable(trx, { orderId, locationId: auth.locationId, tableId: previous.table_id, newCheck: true }),
  );
}
