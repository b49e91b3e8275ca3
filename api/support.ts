import type { WorkflowExecutionDescription, WorkflowExecutionInfo } from '@temporalio/client';
import type { OrderSnapshot } from '../core/order';
import type { AppDeps } from './types';
import { orderIdOfWorkflow } from '../core/events';

/**
 * Stuck orders, read from Temporal visibility (search attributes) and joined with the database:
 * Temporal knows what is still running and why; Postgres knows what has been persisted.
 */

export type StuckReason = 'payment_pending' | 'close_not_persisted' | 'activity_retrying' | 'printing_retrying';

export interface StuckOrder {
  orderId: string;
  orderNumber: number | null;
  workflowId: string;
  runId: string;
  workflowType: string;
  reason: StuckReason;
  since: string;
  currentDetails: string | null;
  temporalUiUrl: string | null;
  paymentId?: string;
  activity?: { type: string; attempt: number; lastFailure: string | null };
}

export interface StuckQuery {
  locationId: string;
  olderThanMs: number;
  minAttempts: number;
}

/** Listing is bounded: a support view, not an export; more than this per kind is a page of the worst. */
const MAX_PER_KIND = 200;
const DESCRIBE_CONCURRENCY = 8;
/** A query waits for a worker; with none polling, the listing answers without the details line. */
const QUERY_DEADLINE_MS = 2000;

const orderIdOf = orderIdOfWorkflow;

/** `10m`, `90s`, `2h`, `1d` → milliseconds. */
export const DURATION_RE = /^(\d{1,6})(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export function durationMs(text: string): number {
  const m = DURATION_RE.exec(text)!;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** `<ui>/namespaces/<ns>/workflows/<workflowId>/<runId>/history`, or null when the UI's address is unknown. */
export function temporalUiLink(deps: AppDeps, workflowId: string, runId: string): string | null {
  const base = deps.temporalUiUrl ?? deps.config.temporalUiUrl;
  if (!base) return null;
  const ns = encodeURIComponent(deps.config.temporalNamespace);
  return `${base.replace(/\/+$/, '')}/namespaces/${ns}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

async function listWorkflows(deps: AppDeps, query: string): Promise<WorkflowExecutionInfo[]> {
  const found: WorkflowExecutionInfo[] = [];
  for await (const wf of deps.temporal.workflow.list({ query, pageSize: MAX_PER_KIND })) {
    found.push(wf);
    if (found.length >= MAX_PER_KIND) break;
  }
  return found;
}

/** The workflow's current-details line (set with setCurrentDetails); null when no worker answers. */
async function currentDetails(deps: AppDeps, wf: { workflowId: string; runId: string }): Promise<string | null> {
  try {
    const handle = deps.temporal.workflow.getHandle(wf.workflowId, wf.runId);
    const meta = (await deps.temporal.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
      handle.query('__temporal_workflow_metadata'),
    )) as { currentDetails?: string };
    return meta.currentDetails || null;
  } catch {
    return null; // no worker polling right now: the rest of the entry still helps
  }
}

async function mapLimited<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(DESCRIBE_CONCURRENCY, items.length) }, run));
  return out;
}

interface Candidate {
  wf: { workflowId: string; runId: string; type: string };
  orderId: string;
  reason: StuckReason;
  since: Date;
  paymentId?: string;
  activity?: StuckOrder['activity'];
}

const running = (locationId: string, type: string) =>
  `WorkflowType = '${type}' AND ExecutionStatus = 'Running' AND LocationId = '${locationId}'`;

/** Gateway payments still pending (the payment workflows' PaymentStatus) that started before the cutoff. */
async function pendingPayments(deps: AppDeps, q: StuckQuery, cutoff: Date): Promise<Candidate[]> {
  const wfs = await listWorkflows(
    deps,
    `${running(q.locationId, 'payment')} AND PaymentStatus = 'pending' AND StartTime < '${cutoff.toISOString()}'`,
  );
  if (!wfs.length) return [];
  const rows: { id: string; workflow_id: string }[] = await deps
    .knex('payments')
    .where('location_id', q.locationId)
    .whereIn(
      'workflow_id',
      wfs.map((wf) => wf.workflowId),
    )
    .select('id', 'workflow_id');
  const paymentIds = new Map(rows.map((r) => [r.workflow_id, r.id]));
  return wfs.flatMap((wf) => {
    const orderId = orderIdOf(wf.workflowId);
    const paymentId = paymentIds.get(wf.workflowId);
    return orderId
      ? [{ wf, orderId, reason: 'payment_pending' as const, since: wf.startTime, ...(paymentId ? { paymentId } : {}) }]
      : [];
  });
}

/** Orders closed in Temporal (OrderStatus) whose close has not reached Postgres (persisted_at null). */
async function unpersistedCloses(deps: AppDeps, q: StuckQuery, cutoff: Date): Promise<Candidate[]> {
  const wfs = await listWorkflows(deps, `${running(q.locationId, 'checkout')} AND OrderStatus = 'closed'`);
  const byOrder = new Map(
    wfs.flatMap((wf) => (orderIdOf(wf.workflowId) ? [[orderIdOf(wf.workflowId)!, wf] as const] : [])),
  );
  if (!byOrder.size) return [];
  const rows: { id: string; persisted_at: Date | null; closed_at: Date | null; updated_at: Date }[] = await deps
    .knex('orders')
    .whereIn('id', [...byOrder.keys()])
    .select('id', 'persisted_at', 'closed_at', 'updated_at');
  const persisted = new Set(rows.filter((r) => r.persisted_at).map((r) => r.id));
  const closedAt = new Map(rows.map((r) => [r.id, r.closed_at ?? r.updated_at]));
  return [...byOrder]
    .filter(([id]) => !persisted.has(id))
    .map(([id, wf]) => ({
      wf,
      orderId: id,
      reason: 'close_not_persisted' as const,
      since: closedAt.get(id) ?? wf.startTime,
    }))
    .filter((c) => c.since <= cutoff);
}

/** Activities of the location's running orders that keep failing (attempt >= minAttempts), with their last failure. */
async function retryingActivities(deps: AppDeps, q: StuckQuery): Promise<Candidate[]> {
  const wfs = await listWorkflows(
    deps,
    `(${running(q.locationId, 'checkout')}) OR (${running(q.locationId, 'payment')})`,
  );
  const described = await mapLimited(wfs, (wf) =>
    deps.temporal.workflow
      .getHandle(wf.workflowId, wf.runId)
      .describe()
      .catch(() => null),
  );
  const failing = described.flatMap((d) => (d ? failingActivitiesOf(d, q.minAttempts) : []));
  return mapLimited(failing, async (f) => ({
    ...f,
    since: (await firstScheduled(deps, f.wf, f.activityId)) ?? f.wf.startTime,
  }));
}

function failingActivitiesOf(d: WorkflowExecutionDescription, minAttempts: number) {
  const orderId = orderIdOf(d.workflowId);
  if (!orderId) return [];
  return (d.raw.pendingActivities ?? [])
    .filter((a) => (a.attempt ?? 0) >= minAttempts)
    .map((a) => ({
      wf: d,
      orderId,
      activityId: a.activityId ?? '',
      reason: 'activity_retrying' as const,
      activity: {
        type: a.activityType?.name ?? 'unknown',
        attempt: a.attempt ?? 0,
        lastFailure: a.lastFailure?.message ?? null,
      },
    }));
}

/**
 * When the activity was first scheduled: retries add no history events and the server's pending
 * info only keeps the current attempt's times, so the scheduling event is read from the history
 * (only for the few activities found failing).
 */
async function firstScheduled(
  deps: AppDeps,
  wf: { workflowId: string; runId: string },
  activityId: string,
): Promise<Date | null> {
  const history = await deps.temporal.workflow
    .getHandle(wf.workflowId, wf.runId)
    .fetchHistory()
    .catch(() => null);
  const event = history?.events?.find((e) => e.activityTaskScheduledEventAttributes?.activityId === activityId);
  return timestampOf(event?.eventTime);
}

function timestampOf(t: { seconds?: unknown; nanos?: number | null } | null | undefined): Date | null {
  if (!t?.seconds) return null;
  return new Date(Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6));
}

/**
 * Print jobs still running after the cutoff: a ticket prints in seconds, so one still running is
 * retrying an unreachable printer (its current-details line says which and why). Print workflows
 * carry no LocationId, so they are matched to this location's orders in the database.
 */
async function retryingPrints(deps: AppDeps, q: StuckQuery, cutoff: Date): Promise<Candidate[]> {
  const wfs = await listWorkflows(
    deps,
    `WorkflowType = 'printTicket' AND ExecutionStatus = 'Running' AND StartTime < '${cutoff.toISOString()}'`,
  );
  const withOrder = wfs.flatMap((wf) => (orderIdOf(wf.workflowId) ? [{ wf, orderId: orderIdOf(wf.workflowId)! }] : []));
  if (!withOrder.length) return [];
  const ours = new Set<string>(
    await deps
      .knex('orders')
      .where('location_id', q.locationId)
      .whereIn(
        'id',
        withOrder.map((c) => c.orderId),
      )
      .pluck('id'),
  );
  return withOrder
    .filter((c) => ours.has(c.orderId))
    .map((c) => ({ ...c, reason: 'printing_retrying' as const, since: c.wf.startTime }));
}

export async function findStuckOrders(deps: AppDeps, q: StuckQuery): Promise<StuckOrder[]> {
  const cutoff = new Date(Date.now() - q.olderThanMs);
  const groups = await Promise.all([
    pendingPayments(deps, q, cutoff),
    unpersistedCloses(deps, q, cutoff),
    retryingActivities(deps, q),
    retryingPrints(deps, q, cutoff),
  ]);
  const candidates = groups.flat();
  const orders = await ordersById(
    deps,
    q.locationId,
    candidates.map((c) => c.orderId),
  );
  const stuck = await mapLimited(candidates, async (c) => toStuckOrder(deps, c, orders.get(c.orderId)));
  return stuck.sort((a, b) => a.since.localeCompare(b.since));
}

async function ordersById(deps: AppDeps, locationId: string, ids: string[]): Promise<Map<string, OrderSnapshot>> {
  if (!ids.length) return new Map();
  const rows: { id: string; snapshot: OrderSnapshot }[] = await deps
    .knex('orders')
    .where('location_id', locationId)
    .whereIn('id', [...new Set(ids)])
    .select('id', 'snapshot');
  return new Map(rows.map((r) => [r.id, r.snapshot]));
}

async function toStuckOrder(deps: AppDeps, c: Candidate, order: OrderSnapshot | undefined): Promise<StuckOrder> {
  return {
    orderId: c.orderId,
    orderNumber: order?.orderNumber ?? null,
    workflowId: c.wf.workflowId,
    runId: c.wf.runId,
    workflowType: c.wf.type,
    reason: c.reason,
    since: c.since.toISOString(),
    currentDetails: await currentDetails(deps, c.wf),
    temporalUiUrl: temporalUiLink(deps, c.wf.workflowId, c.wf.runId),
    ...(c.paymentId ? { paymentId: c.paymentId } : {}),
    ...(c.activity ? { activity: c.activity } : {}),
  };
}
