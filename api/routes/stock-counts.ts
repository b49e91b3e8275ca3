import { randomUUID } from 'node:crypto';
import * as yup from 'yup';
import { WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { UpdateDefinition } from '@temporalio/common';
import { json, route, MANAGER } from '../route';
import { ref as component } from '../openapi-schemas';
import { conflict, fieldError, notFound, validationError } from '../errors';
import { idempotencyKey } from '../idempotency';
import { count as whole, idParams, noUnknown, uuid } from '../validation';
import { updateError, uuidFromKey } from '../order-service';
import type { AppDeps, AuthContext } from '../types';
import * as sc from '../../core/stock-count';
import { SA } from '../../core/search-attributes';
import { lineRows } from '../../db/stock';
import { executeUpdate } from '../update-retry';
import type { stockCount, StockCountInput } from '../../workflows/stock-count';

const TAG = 'Stock counts';
const BASE = '/api/v1/stock-counts';

const createBody = noUnknown(
  yup.object({
    categoryId: uuid(),
    itemIds: yup
      .array(uuid().required())
      .strict()
      .min(1)
      .max(5000)
      .test('unique', '${path} must not repeat an id', (ids) => !ids || new Set(ids).size === ids.length),
  }),
)
  .test('one-selection', 'Send categoryId or itemIds, not both', (v) => !(v?.categoryId && v?.itemIds))
  .meta({ jsonSchema: { not: { required: ['categoryId', 'itemIds'] } } });
const countBody = noUnknown(yup.object({ itemId: uuid().required(), counted: whole().required() }));

interface CountRow {
  id: string;
  status: string;
  category_id: string | null;
  staff_id: string | null;
  created_at: Date;
  completed_at: Date | null;
  cancelled_at: Date | null;
  cancel_reason: string | null;
}

async function findCount(deps: AppDeps, auth: AuthContext, id: string): Promise<CountRow> {
  const row = await deps.knex('stock_counts').where({ id, location_id: auth.locationId }).first();
  if (!row) throw notFound('Stock count');
  return row;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

async function countView(deps: AppDeps, auth: AuthContext, id: string) {
  const c = await findCount(deps, auth, id);
  const lines = (await lineRows(deps.knex, id)).map(sc.lineView);
  return {
    id: c.id,
    status: c.status,
    categoryId: c.category_id,
    lines,
    totals: {
      items: lines.length,
      counted: lines.filter((l) => l.counted !== null).length,
      variance: lines.reduce((s, l) => s + (l.variance ?? 0), 0),
      varianceValue: lines.reduce((s, l) => s + (l.varianceValue ?? 0), 0),
    },
    startedAt: iso(c.created_at),
    completedAt: iso(c.completed_at),
    cancelledAt: iso(c.cancelled_at),
    cancelReason: c.cancel_reason,
    staffId: c.staff_id,
    workflowId: sc.stockCountWorkflowId(c.id),
  };
}

/** The selection must name this location's stock-tracked items (or category): anything else is a 422. */
async function checkSelection(
  deps: AppDeps,
  auth: AuthContext,
  body: { categoryId?: string; itemIds?: string[] },
): Promise<void> {
  if (body.categoryId) {
    const category = await deps
      .knex('categories')
      .where({ id: body.categoryId, location_id: auth.locationId })
      .first('id');
    if (!category) throw fieldError('categoryId', 'No such category in this location');
  }
  if (body.itemIds) {
    const found = new Set(
      await deps
        .knex('items')
        .where({ location_id: auth.locationId, track_stock: true })
        .whereNull('deleted_at')
        .whereIn('id', body.itemIds)
        .pluck('id'),
    );
    const errors = body.itemIds.flatMap((id, i) =>
      found.has(id) ? [] : [{ path: `itemIds[${i}]`, message: 'No such stock-tracked item in this location' }],
    );
    if (errors.length)
      throw validationError(
        errors.length === 1 ? errors[0]!.message : `${errors.length} items are not countable`,
        errors,
      );
  }
}

/**
 * Starts the count's workflow and waits for its opening snapshot in one Update-with-Start. The
 * same Idempotency-Key finds the same count.
 */
async function openCount(
  deps: AppDeps,
  auth: AuthContext,
  body: { categoryId?: string; itemIds?: string[] },
  key?: string,
): Promise<{ id: string; created: boolean }> {
  const id = key ? uuidFromKey(`stock-count:${auth.locationId}:${key}`) : randomUUID();
  if (await deps.knex('stock_counts').where({ id, location_id: auth.locationId }).first('id'))
    return { id, created: false };
  await checkSelection(deps, auth, body);
  const input: StockCountInput = {
    state: {
      id,
      locationId: auth.locationId,
      staffId: auth.staffId,
      status: 'open',
      itemIds: null,
      counted: {},
      seq: 0,
      startedAt: new Date().toISOString(),
      cancelReason: null,
    },
    categoryId: body.categoryId ?? null,
    itemIds: body.itemIds ?? null,
    abandonAfterMs: deps.config.stockCountAbandonAfterMs,
  };
  const what = body.categoryId
    ? `category ${body.categoryId}`
    : body.itemIds
      ? `${body.itemIds.length} item(s)`
      : 'every stock-tracked item';
  const startWorkflowOperation = new WithStartWorkflowOperation<typeof stockCount>('stockCount', {
    workflowId: sc.stockCountWorkflowId(id),
    taskQueue: deps.config.taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: new TypedSearchAttributes([
      { key: SA.locationId, value: auth.locationId },
      { key: SA.staffId, value: auth.staffId },
      { key: SA.stockCountStatus, value: 'open' },
    ]),
    staticSummary: `Stock count of ${what} by ${auth.name}`,
    staticDetails: `Stock count ${id}\nLocation ${auth.locationId}\nStaff ${auth.name} (${auth.staffId})`,
  });
  try {
    await deps.temporal.workflow.executeUpdateWithStart(sc.openStockCountUpdate, {
      args: [{ callerLocationId: auth.locationId }],
      startWorkflowOperation,
    });
    return { id, created: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      if (await deps.knex('stock_counts').where({ id, location_id: auth.locationId }).first('id'))
        return { id, created: false };
      throw conflict('This Idempotency-Key was used for a count that did not open');
    }
    throw updateError(err) ?? err;
  }
}

/** Sends an Update to an open count; a count that is no longer open is a 409. */
async function updateCount<Ret, Arg extends sc.Caller>(
  deps: AppDeps,
  auth: AuthContext,
  id: string,
  def: UpdateDefinition<Ret, [Arg]>,
  arg: Omit<Arg, 'callerLocationId'>,
): Promise<Ret> {
  const before = await findCount(deps, auth, id);
  if (before.status !== 'open') throw conflict(`Stock count is ${before.status}`);
  try {
    const handle = deps.temporal.workflow.getHandle(sc.stockCountWorkflowId(id));
    return await executeUpdate(handle, def, { ...arg, callerLocationId: auth.locationId } as Arg);
  } catch (err) {
    const mapped = updateError(err);
    if (mapped) throw mapped;
    const now = await findCount(deps, auth, id);
    if (now.status !== 'open') throw conflict(`Stock count is ${now.status}`);
    throw err;
  }
}

/**
 * Completes or cancels a count. Repeating the same request returns the count (a client whose
 * response was lost can retry); the other one on a finished count is a 409.
 */
async function finishCount(
  deps: AppDeps,
  auth: AuthContext,
  id: string,
  def: UpdateDefinition<void, [sc.FinishRequest]>,
  done: 'completed' | 'cancelled',
) {
  const before = await findCount(deps, auth, id);
  if (before.status !== done) {
    try {
      await updateCount(deps, auth, id, def, { staffId: auth.staffId });
    } catch (err) {
      if ((await findCount(deps, auth, id)).status !== done) throw err;
    }
  }
  return countView(deps, auth, id);
}

const startCount = route({
  method: 'post',
  path: BASE,
  summary:
    "Start a stock count (one workflow) of a category, a list of items, or every stock-tracked item, with each item's expected quantity now",
  tag: TAG,
  roles: MANAGER,
  body: createBody,
  responses: {
    201: json('Stock count (open)', component('StockCount')),
    200: json('The count this Idempotency-Key started', component('StockCount')),
  },
  errors: [409],
  handler: async ({ body, auth, deps, ctx }) => {
    const { id, created } = await openCount(deps, auth, body, idempotencyKey(ctx));
    ctx.status = created ? 201 : 200;
    return countView(deps, auth, id);
  },
});

const listCounts = route({
  method: 'get',
  path: BASE,
  summary: 'Stock counts, newest first',
  tag: TAG,
  roles: MANAGER,
  query: noUnknown(yup.object({ status: yup.string().oneOf(['open', 'completed', 'cancelled'] as const) })),
  responses: {
    200: json(
      '{stockCounts: [{id, status, categoryId, items, counted, startedAt, completedAt, cancelledAt, staffId}]}',
      component('StockCountList'),
    ),
  },
  handler: async ({ query, auth, deps }) => {
    const q = deps.knex('stock_counts as c').where('c.location_id', auth.locationId);
    if (query.status) q.where('c.status', query.status);
    const rows = await q
      .leftJoin('stock_count_lines as l', 'l.stock_count_id', 'c.id')
      .groupBy('c.id')
      .orderBy([
        { column: 'c.created_at', order: 'desc' },
        { column: 'c.id', order: 'desc' },
      ])
      .limit(200)
      .select(
        'c.*',
        deps.knex.raw('count(l.item_id)::int as items'),
        deps.knex.raw('count(l.counted)::int as counted'),
      );
    return {
      stockCounts: rows.map((c) => ({
        id: c.id,
        status: c.status,
        categoryId: c.category_id,
        items: c.items,
        counted: c.counted,
        startedAt: iso(c.created_at),
        completedAt: iso(c.completed_at),
        cancelledAt: iso(c.cancelled_at),
        staffId: c.staff_id,
      })),
    };
  },
});

const showCount = route({
  method: 'get',
  path: `${BASE}/:id`,
  summary: 'A stock count: per item expected, counted, moved during the count, variance and its value at cost',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  responses: { 200: json('Stock count', component('StockCount')) },
  handler: async ({ params, auth, deps }) => countView(deps, auth, params.id),
});

const recordCount = route({
  method: 'post',
  path: `${BASE}/:id/counts`,
  summary:
    "Record an item's counted quantity (an Update; a repeat replaces the earlier value); also reads the item's stock at this moment",
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  body: countBody,
  responses: { 200: json('The count line', component('StockCountLine')) },
  errors: [409],
  handler: async ({ params, body, auth, deps }) => {
    const item = await deps.knex('items').where({ id: body.itemId, location_id: auth.locationId }).first('id');
    if (!item) throw fieldError('itemId', 'No such item in this location');
    return updateCount(deps, auth, params.id, sc.recordCountUpdate, {
      itemId: body.itemId,
      counted: body.counted,
      staffId: auth.staffId,
    });
  },
});

const completeCount = route({
  method: 'post',
  path: `${BASE}/:id/complete`,
  summary:
    'Complete the count: each counted item moves by counted − its stock when counted (one `count` movement per item, once)',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  responses: { 200: json('Stock count (completed)', component('StockCount')) },
  errors: [409],
  handler: async ({ params, auth, deps }) =>
    finishCount(deps, auth, params.id, sc.completeStockCountUpdate, 'completed'),
});

const cancelCount = route({
  method: 'post',
  path: `${BASE}/:id/cancel`,
  summary: 'Cancel the count: nothing is applied',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  responses: { 200: json('Stock count (cancelled)', component('StockCount')) },
  errors: [409],
  handler: async ({ params, auth, deps }) => finishCount(deps, auth, params.id, sc.cancelStockCountUpdate, 'cancelled'),
});

export function stockCountRoutes() {
  return [startCount, listCounts, showCount, recordCount, completeCount, cancelCount];
}
