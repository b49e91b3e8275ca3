import * as yup from 'yup';
import { json, route, CASHIER, KITCHEN, MANAGER } from '../route';
import { object, ref } from '../openapi-schemas';
import { conflict, notFound, validationError } from '../errors';
import { idempotencyKey } from '../idempotency';
import { bool, int, isoDate, noUnknown, nonBlank, nonEmpty, text, uuid, UUID_RE } from '../validation';
import * as msg from '../../core/messages';
import { kitchenTicketOf, orderNumberTicketOf, receiptOf } from '../../core/tickets';
import type { OrderSnapshot } from '../../core/order';
import { createOrder, getOrder, resolveLine, updateOrder } from '../order-service';
import { patchOrder } from '../floor-service';
import { loadSettings } from '../settings-read';
import type { printTicket } from '../../workflows/print-ticket';
import type { AppDeps, AuthContext } from '../types';
import { kitchenView } from '../../core/views';
import { readyRequest } from '../kitchen-screens';
import { randomUUID } from 'node:crypto';
import { localDayRange } from '../time';
import { audit, auditedOrderUpdate, orderMoney } from '../audit';
import { lineWithKitchen, requireApproval, sentToKitchen, type Approval } from '../approval';
import { discountPercent } from '../../core/order';

/** What an audit row keeps of a voided line and of a discount. */
const lineOf = (s: OrderSnapshot, lineId: string) => {
  const l = s.lines.find((x) => x.id === lineId);
  return l ? { id: l.id, name: l.name, quantity: l.quantity, total: l.total } : { id: lineId };
};
const discountOf = (s: OrderSnapshot, discountId: string) =>
  s.discounts.find((d) => d.id === discountId) ?? { id: discountId };

/** A discount of this location as an order takes it; one of a group that is switched off is refused (its state: 409). */
async function applicableDiscount(deps: AppDeps, auth: AuthContext, discountId: string) {
  const row = await deps
    .knex('discounts as d')
    .leftJoin('discount_groups as g', 'g.id', 'd.group_id')
    .where({ 'd.id': discountId, 'd.location_id': auth.locationId })
    .first('d.id', 'd.name', 'd.type', 'd.value', 'd.available', 'g.available as groupAvailable');
  if (!row)
    throw validationError('Unknown discount', [{ path: 'discountId', message: 'No such discount in this location' }]);
  const { groupAvailable, ...discount } = row;
  if (groupAvailable === false) throw conflict(`${discount.name}: its discount group is not available`);
  return discount as { id: string; name: string; type: 'percent' | 'amount'; value: number; available: boolean };
}

const orderType = () => yup.string().oneOf(['dine_in', 'takeaway'] as const);
const modifierIds = () => yup.array(uuid().required()).max(20);
const lineBody = noUnknown(
  yup.object({
    itemId: uuid().required(),
    quantity: int().min(1).max(999).required(),
    modifierIds: modifierIds().default([]),
    note: text(200).nullable(),
  }),
);
const orderParams = yup.object({ id: uuid().required() });
const lineParams = yup.object({ id: uuid().required(), lineId: uuid().required() });

/** The approval a change needs when `needed`, else none (the audit row then names only the staff member). */
async function approvalIf(
  needed: boolean,
  input: { deps: AppDeps; ctx: Parameters<typeof requireApproval>[1]; auth: AuthContext },
  what: string,
  reason: string | undefined,
): Promise<{ approval?: Approval }> {
  return needed ? { approval: await requireApproval(input.deps, input.ctx, input.auth, what, reason) } : {};
}
const approvalReason = () => text(200).optional();
/** Tells the workflow what was found, so it refuses the change if the order moved on since (core/order ApprovalSeen). */
const approvalSeen = (a: { approval?: Approval }) => (a.approval ? 'approved' : 'none') as 'approved' | 'none';
const APPROVAL_NOTE = ' Needs a manager (X-Approver-Pin header, 4-8 digits, with a reason) when ';

const snapshotResponse = { 200: json('Order snapshot (version + 1)', ref('Order')) };
const updateErrors = [404, 409];

/**
 * A page cursor is `<created_at in microseconds since the epoch>_<order id>` of the last order
 * returned (microseconds, the column's precision, so no order is skipped between pages). Every
 * string of that shape is a valid position, so the pattern in the spec is the whole rule.
 */
const CURSOR_RE = new RegExp(`^([0-9]{1,16})_(${UUID_RE.source.slice(1, -1)})$`);

const openOrder = route({
  method: 'post',
  path: '/api/v1/orders',
  summary:
    'Open an order (one checkout workflow). A repeated create with the same client `id` (or the same Idempotency-Key) returns the same order.',
  tag: 'Orders',
  roles: CASHIER,
  body: noUnknown(
    yup.object({
      id: uuid().optional(),
      type: orderType().required(),
      table: text(20).nullable(),
      customerName: text(80).nullable(),
      terminalId: yup
        .string()
        .strict()
        .matches(/^[A-Za-z0-9._:-]{1,64}$/, 'terminalId: 1-64 letters, digits, . _ : -')
        .nullable(),
      lines: yup.array(lineBody).max(200),
      tableId: uuid().nullable(),
      newCheck: bool(),
      customerId: uuid().nullable(),
    }),
  ),
  responses: {
    201: json('Order created (snapshot)', ref('Order')),
    200: json('Existing order with this id (snapshot)', ref('Order')),
  },
  // 409 CONFLICT with `existingOrderId` when the table already has an open order (unless newCheck).
  errors: [409],
  handler: async ({ body, auth, deps, ctx }) => {
    const { created, snapshot } = await createOrder(deps, auth, body, idempotencyKey(ctx));
    ctx.status = created ? 201 : 200;
    return snapshot;
  },
});

const listOrders = route({
  method: 'get',
  path: '/api/v1/orders',
  summary:
    "List orders of the caller's location, newest first (date = the location's local day; receipt = the order with that receipt number). Kitchen tokens get kitchen views (lines, modifiers, notes, number, type, table, statuses; no payments, totals, staff or customer).",
  tag: 'Orders',
  roles: KITCHEN,
  query: yup.object({
    date: isoDate(),
    status: yup.string().oneOf(['open', 'closed', 'cancelled', 'partially_refunded', 'refunded']),
    limit: yup.number().integer().min(1).max(200).default(50),
    cursor: yup.string().matches(CURSOR_RE, '${path} is not a cursor this API returned'),
    receipt: yup.number().integer().min(1).max(2147483647),
  }),
  responses: {
    200: json(
      '{orders: [snapshot | kitchen view for kitchen tokens], nextCursor}: pass nextCursor as cursor for the next page (null on the last)',
      ref('OrderPage'),
    ),
  },
  handler: async ({ query, auth, deps }) => {
    const q = deps.knex('orders').where('location_id', auth.locationId);
    if (query.status) q.where('status', query.status);
    if (query.receipt !== undefined) q.where('receipt_number', query.receipt);
    if (query.date) {
      const settings = await loadSettings(deps.knex, auth.locationId);
      const { start, end } = localDayRange(query.date, settings?.timezone ?? 'UTC');
      q.where('created_at', '>=', start).where('created_at', '<', end);
    }
    if (query.cursor) {
      const { micros, id } = decodeCursor(query.cursor);
      const at = deps.knex.raw(`timestamptz 'epoch' + ?::bigint * interval '1 microsecond'`, [micros]);
      q.where((w) => {
        w.where('created_at', '<', at).orWhere((x) => {
          x.where('created_at', '=', at).where('id', '<', id);
        });
      });
    }
    const rows = await q
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(query.limit + 1)
      .select('id', deps.knex.raw(`(extract(epoch from created_at) * 1000000)::bigint::text as micros`), 'snapshot');
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      orders: page.map((r) => asSeenBy(auth, r.snapshot as OrderSnapshot)),
      nextCursor: rows.length > query.limit && last ? `${last.micros}_${last.id}` : null,
    };
  },
});

const showOrder = route({
  method: 'get',
  path: '/api/v1/orders/:id',
  summary: 'The order snapshot (live while open); the kitchen view for kitchen tokens',
  tag: 'Orders',
  roles: KITCHEN,
  params: orderParams,
  responses: { 200: json('Order snapshot (the kitchen view for kitchen tokens)', ref('Order')) },
  handler: async ({ params, auth, deps }) => asSeenBy(auth, await getOrder(deps, auth, params.id)),
});

const changeOrder = route({
  method: 'patch',
  path: '/api/v1/orders/:id',
  summary:
    'Set order type, table label or customer name; move the order to another table (`tableId`; 409 with `existingOrderId` when that table has an open order; null leaves the floor) or attach a customer (`customerId`)',
  tag: 'Orders',
  roles: CASHIER,
  params: orderParams,
  body: nonEmpty(
    noUnknown(
      yup.object({
        type: orderType(),
        table: text(20).nullable(),
        customerName: text(80).nullable(),
        tableId: uuid().nullable(),
        customerId: uuid().nullable(),
      }),
    ),
  ),
  responses: snapshotResponse,
  errors: updateErrors,
  handler: async ({ params, body, auth, deps, ctx }) => patchOrder(deps, auth, params.id, body, idempotencyKey(ctx)),
});

const addLine = route({
  method: 'post',
  path: '/api/v1/orders/:id/lines',
  summary: 'Add a line (item, quantity, modifiers, note)',
  tag: 'Orders',
  roles: CASHIER,
  params: orderParams,
  body: lineBody,
  responses: snapshotResponse,
  errors: updateErrors,
  handler: async ({ params, body, auth, deps, ctx }) => {
    const req = await resolveLine(deps, auth.locationId, body);
    return updateOrder(deps, auth, params.id, msg.addLineUpdate, req, idempotencyKey(ctx));
  },
});

const changeLine = route({
  method: 'patch',
  path: '/api/v1/orders/:id/lines/:lineId',
  summary: "Change a line's quantity, modifiers or note",
  tag: 'Orders',
  roles: CASHIER,
  params: lineParams,
  body: nonEmpty(
    noUnknown(yup.object({ quantity: int().min(1).max(999), modifierIds: modifierIds(), note: text(200).nullable() })),
  ),
  responses: snapshotResponse,
  errors: updateErrors,
  handler: async ({ params, body, auth, deps, ctx }) =>
    updateOrder(deps, auth, params.id, msg.updateLineUpdate, { lineId: params.lineId, ...body }, idempotencyKey(ctx)),
});

const removeLine = route({
  method: 'delete',
  path: '/api/v1/orders/:id/lines/:lineId',
  summary: `Remove (void) a line.${APPROVAL_NOTE}the line was sent to the kitchen (reason in ?reason=).`,
  tag: 'Orders',
  roles: CASHIER,
  params: lineParams,
  query: noUnknown(yup.object({ reason: approvalReason() })),
  responses: snapshotResponse,
  errors: updateErrors,
  handler: async ({ params, query, auth, deps, ctx }) => {
    const current = await getOrder(deps, auth, params.id);
    const approved = await approvalIf(
      current.status === 'open' && lineWithKitchen(current, params.lineId),
      { deps, ctx, auth },
      'Voiding a line the kitchen has',
      query.reason,
    );
    return auditedOrderUpdate(
      deps,
      auth,
      params.id,
      'order.line_voided',
      () =>
        updateOrder(
          deps,
          auth,
          params.id,
          msg.removeLineUpdate,
          { lineId: params.lineId, approval: approvalSeen(approved) },
          idempotencyKey(ctx),
        ),
      (before, after) => ({
        line: lineOf(before, params.lineId),
        before: orderMoney(before),
        after: orderMoney(after),
        ...approved,
      }),
    );
  },
});

const applyDiscount = route({
  method: 'post',
  path: '/api/v1/orders/:id/discounts',
  summary: `Apply a discount.${APPROVAL_NOTE}it takes more than the location's approvalDiscountPercent of the order.`,
  tag: 'Orders',
  roles: CASHIER,
  params: orderParams,
  body: noUnknown(yup.object({ discountId: uuid().required(), reason: approvalReason() })),
  responses: snapshotResponse,
  errors: updateErrors,
  handler: async ({ params, body, auth, deps, ctx }) => {
    const d = await applicableDiscount(deps, auth, body.discountId);
    const [current, settings] = await Promise.all([
      getOrder(deps, auth, params.id),
      loadSettings(deps.knex, auth.locationId),
    ]);
    const limit = settings?.approvalDiscountPercent ?? null;
    const approved = await approvalIf(
      limit !== null && discountPercent(d, current.totals.subtotal) > limit,
      { deps, ctx, auth },
      `A discount above ${limit}%`,
      body.reason,
    );
    return auditedOrderUpdate(
      deps,
      auth,
      params.id,
      'order.discount_applied',
      () =>
        updateOrder(
          deps,
          auth,
          params.id,
          msg.addDiscountUpdate,
          { ...d, approval: approvalSeen(approved), approvalDiscountPercent: limit },
          idempotencyKey(ctx),
        ),
      (before, after) => ({
        discount: discountOf(after, d.id),
        before: orderMoney(before),
        after: orderMoney(after),
        ...approved,
      }),
    );
  },
});

const removeDiscount = route({
  method: 'delete',
  path: '/api/v1/orders/:id/discounts/:discountId',
  summary: 'Remove a discount',
  tag: 'Orders',
  roles: CASHIER,
  params: yup.object({ id: uuid().required(), discountId: uuid().required() }),
  responses: snapshotResponse,
  errors: updateErrors,
  handler: async ({ params, auth, deps, ctx }) =>
    auditedOrderUpdate(
      deps,
      auth,
      params.id,
      'order.discount_removed',
      () =>
        updateOrder(
          deps,
          auth,
          params.id,
          msg.removeDiscountUpdate,
          { discountId: params.discountId },
          idempotencyKey(ctx),
        ),
      (before, after) => ({
        discount: discountOf(before, params.discountId),
        before: orderMoney(before),
        after: orderMoney(after),
      }),
    ),
});

const submitOrder = route({
  method: 'post',
  path: '/api/v1/orders/:id/submit',
  summary: 'Send the order (what is new since the last submit) to the kitchen',
  tag: 'Orders',
  roles: CASHIER,
  params: orderParams,
  responses: snapshotResponse,
  errors: updateErrors,
  handler: async ({ params, auth, deps, ctx }) =>
    updateOrder(deps, auth, params.id, msg.submitUpdate, {}, idempotencyKey(ctx)),
});

const markReady = route({
  method: 'post',
  path: '/api/v1/orders/:id/ready',
  summary:
    'Kitchen bump: the order is ready and its number is announced. With screenId (a kitchen screen; its own token sends its own id by default) only the lines that screen shows are ready (per-line kitchenStatus); the order is ready, and announced, once every station has bumped. 409 when that screen has nothing sent to bump.',
  tag: 'Orders',
  roles: [...KITCHEN, 'kitchen_screen'],
  params: orderParams,
  body: noUnknown(yup.object({ screenId: uuid() })),
  responses: {
    200: json('Order snapshot (version + 1); the kitchen view for kitchen tokens', {
      type: 'object',
      required: ['id', 'status', 'kitchenStatus', 'version'],
    }),
  },
  errors: updateErrors,
  handler: async ({ params, body, auth, deps, ctx }) => {
    const req = await readyRequest(deps, auth, params.id, body?.screenId);
    return asSeenBy(auth, await updateOrder(deps, auth, params.id, msg.readyUpdate, req, idempotencyKey(ctx)));
  },
});

const cancelOrder = route({
  method: 'post',
  path: '/api/v1/orders/:id/cancel',
  summary: `Cancel an order on which no payment has succeeded (409 otherwise: refund instead).${APPROVAL_NOTE}the order was sent to the kitchen.`,
  tag: 'Orders',
  roles: CASHIER,
  params: orderParams,
  body: noUnknown(yup.object({ reason: nonBlank(200).required() })),
  responses: snapshotResponse,
  errors: updateErrors,
  handler: async ({ params, body, auth, deps, ctx }) => {
    const current = await getOrder(deps, auth, params.id);
    const approved = await approvalIf(
      current.status === 'open' && sentToKitchen(current),
      { deps, ctx, auth },
      'Cancelling an order the kitchen has',
      body.reason,
    );
    return auditedOrderUpdate(
      deps,
      auth,
      params.id,
      'order.cancelled',
      () =>
        updateOrder(
          deps,
          auth,
          params.id,
          msg.cancelUpdate,
          { ...body, approval: approvalSeen(approved) },
          idempotencyKey(ctx),
        ),
      (before, after) => ({
        reason: body.reason,
        before: orderMoney(before),
        after: orderMoney(after),
        ...approved,
      }),
    );
  },
});

const printAgain = route({
  method: 'post',
  path: '/api/v1/orders/:id/reprint',
  summary: 'Print a receipt, kitchen ticket or order-number ticket again',
  tag: 'Orders',
  roles: CASHIER,
  params: orderParams,
  body: noUnknown(
    yup.object({
      kind: yup
        .string()
        .oneOf(['receipt', 'kitchen', 'orderNumber'] as const)
        .required(),
    }),
  ),
  responses: { 202: json('{workflowId}: the print job was queued', object({ workflowId: { type: 'string' } })) },
  handler: async ({ params, body, auth, deps, ctx }) => {
    const snapshot = await getOrder(deps, auth, params.id);
    const workflowId = await reprint(deps, snapshot, body.kind, idempotencyKey(ctx));
    ctx.status = 202;
    return { workflowId };
  },
});

const resetOrderNumbers = route({
  method: 'post',
  path: '/api/v1/order-numbers/reset',
  summary: 'Restart order numbers: the next order gets number 1',
  tag: 'Orders',
  roles: MANAGER,
  responses: { 200: json('{next: 1}', object({ next: { type: 'integer', const: 1 } })) },
  handler: async ({ auth, deps }) => {
    await deps.knex('locations').where('id', auth.locationId).update({ order_number_counter: 0 });
    await audit(deps.knex, auth, 'order_numbers.reset', auth.locationId);
    return { next: 1 };
  },
});

export function ordersRoutes() {
  return [
    openOrder,
    listOrders,
    showOrder,
    changeOrder,
    addLine,
    changeLine,
    removeLine,
    applyDiscount,
    removeDiscount,
    submitOrder,
    markReady,
    cancelOrder,
    printAgain,
    resetOrderNumbers,
  ];
}

/** Kitchen staff read orders as the kitchen view only (the contract: kitchen feeds and bumps). */
function asSeenBy(auth: AuthContext, s: OrderSnapshot) {
  return auth.role === 'kitchen' || auth.role === 'kitchen_screen' ? kitchenView(s) : s;
}

async function reprint(
  deps: AppDeps,
  s: OrderSnapshot,
  kind: 'receipt' | 'kitchen' | 'orderNumber',
  key?: string,
): Promise<string> {
  const settings = await loadSettings(deps.knex, s.locationId);
  if (!settings) throw notFound('Location');
  const job =
    kind === 'receipt'
      ? { kind, receipt: receiptOf(s, settings.name, settings.taxInclusive) }
      : kind === 'kitchen'
        ? { kind, ticket: kitchenTicketOf(s) }
        : { kind, ticket: orderNumberTicketOf(s, settings.name) };
  const workflowId = `reprint-${s.id}-${kind}-${key ?? randomUUID()}`;
  await deps.temporal.workflow.start<typeof printTicket>('printTicket', {
    workflowId,
    taskQueue: deps.config.taskQueue,
    args: [
      { role: kind === 'kitchen' ? 'kitchen' : 'receipt', job, locationId: s.locationId, options: deps.config.print },
    ],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: `Reprint ${kind} for order #${s.orderNumber}`,
  });
  return workflowId;
}

function decodeCursor(cursor: string): { micros: string; id: string } {
  const m = CURSOR_RE.exec(cursor);
  if (!m)
    throw validationError('Invalid cursor', [{ path: 'query.cursor', message: 'cursor is not one this API returned' }]);
  return { micros: m[1]!, id: m[2]! };
}
