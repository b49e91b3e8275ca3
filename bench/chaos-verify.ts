/**
 * What bench:chaos checks once every checkout has been completed: from the database, the
 * sandbox's own records and Temporal, each checkout happened exactly once.
 */
import type { Knex } from 'knex';
import { Client } from '@temporalio/client';
import { snapshotQuery } from '../core/messages';
import { workflowIds } from '../core/events';
import type { Checkout } from './chaos-terminal';

export interface Findings {
  /** Checkouts without their closed, persisted order, stock movements, payment or charge. */
  lost: string[];
  /** Orders, stock movements, payments or gateway charges beyond one per checkout. */
  duplicated: string[];
  /** Orders whose events are not in version order, or whose projection is behind the workflow. */
  disordered: string[];
}

interface Sandbox {
  stripe: { paymentIntents: Array<{ id: string; status: string; metadata?: Record<string, string> }> };
  mpesa: { pushes: Array<{ checkoutRequestId: string; resultCode: number | null }> };
}

export async function verify(
  knex: Knex,
  temporal: Client,
  checkouts: Checkout[],
  trackedLines: number,
  sandbox: Sandbox,
): Promise<Findings> {
  const f: Findings = { lost: [], duplicated: [], disordered: [] };
  const ids = checkouts.map((c) => c.id);
  await checkOrders(knex, ids, f);
  await checkStock(knex, ids, trackedLines, f);
  await checkPayments(knex, checkouts, sandbox, f);
  await checkVersions(knex, temporal, ids, f);
  return f;
}

async function checkOrders(knex: Knex, ids: string[], f: Findings): Promise<void> {
  const rows = await knex('orders').whereNotNull('persisted_at').where('status', 'closed').pluck('id');
  const done = new Set<string>(rows);
  for (const id of ids) if (!done.has(id)) f.lost.push(`order ${id} not closed and persisted`);
  const known = new Set(ids);
  for (const id of await knex('orders').pluck('id'))
    if (!known.has(id)) f.duplicated.push(`order ${id} no terminal made`);
}

async function checkStock(knex: Knex, ids: string[], trackedLines: number, f: Findings): Promise<void> {
  const rows: Array<{ order_id: string; n: string }> = await knex('inventory_movements')
    .where('reason', 'sale')
    .groupBy('order_id')
    .select('order_id', knex.raw('count(*) as n'));
  const moved = new Map(rows.map((r) => [r.order_id, Number(r.n)]));
  for (const id of ids) {
    const n = moved.get(id) ?? 0;
    if (n < trackedLines) f.lost.push(`order ${id}: ${n} of ${trackedLines} stock movements`);
    if (n > trackedLines) f.duplicated.push(`order ${id}: ${n} stock movements for ${trackedLines} lines`);
  }
}

async function checkPayments(knex: Knex, checkouts: Checkout[], sandbox: Sandbox, f: Findings): Promise<void> {
  const rows: Array<{ order_id: string; method: string; reference: string | null }> = await knex('payments')
    .where('status', 'succeeded')
    .select('order_id', 'method', 'reference');
  const byOrder = new Map<string, typeof rows>();
  for (const r of rows) byOrder.set(r.order_id, [...(byOrder.get(r.order_id) ?? []), r]);
  for (const c of checkouts) {
    const n = byOrder.get(c.id)?.length ?? 0;
    if (n === 0) f.lost.push(`order ${c.id}: no succeeded payment`);
    if (n > 1) f.duplicated.push(`order ${c.id}: ${n} succeeded payments`);
  }
  const charged = [
    ...sandbox.stripe.paymentIntents.filter((pi) => pi.status === 'succeeded').map((pi) => ['card', pi.id] as const),
    ...sandbox.mpesa.pushes.filter((p) => p.resultCode === 0).map((p) => ['mpesa', p.checkoutRequestId] as const),
  ];
  const recorded = new Set(rows.filter((r) => r.method !== 'cash').map((r) => r.reference));
  for (const [method, ref] of charged)
    if (!recorded.has(ref)) f.duplicated.push(`${method} charge ${ref} has no payment`);
  const chargedRefs = new Set(charged.map(([, ref]) => ref));
  for (const r of rows)
    if (r.method !== 'cash' && !chargedRefs.has(r.reference ?? ''))
      f.lost.push(`payment ${r.reference}: no gateway charge`);
}

/** Each order's events in version order (by id), and its projection at the workflow's own version. */
async function checkVersions(knex: Knex, temporal: Client, ids: string[], f: Findings): Promise<void> {
  const rows: Array<{ order_id: string; version: number }> = await knex('order_events')
    .whereIn('order_id', ids)
    .where('event', 'order.updated')
    .orderBy('id')
    .select('order_id', 'version');
  const last = new Map<string, number>();
  for (const r of rows) {
    if ((last.get(r.order_id) ?? 0) > r.version) f.disordered.push(`order ${r.order_id}: version ${r.version} late`);
    last.set(r.order_id, Math.max(last.get(r.order_id) ?? 0, r.version));
  }
  const projected = new Map<string, number>(
    (await knex('orders').whereIn('id', ids).select('id', 'version')).map((r: any) => [r.id, r.version]),
  );
  for (const id of ids) {
    const snapshot = await temporal.workflow.getHandle(workflowIds.order(id)).query(snapshotQuery);
    if (projected.get(id) !== snapshot.version)
      f.disordered.push(`order ${id}: projection v${projected.get(id)}, workflow v${snapshot.version}`);
  }
}
