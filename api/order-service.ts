import { createHash, randomUUID } from 'node:crypto';
import {
  type WorkflowStartOptions,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure, TypedSearchAttributes, type SearchAttributePair } from '@temporalio/common';
import type { UpdateDefinition } from '@temporalio/common';
import * as order from '../core/order';
import type { OrderSnapshot, OrderState } from '../core/order';
import * as msg from '../core/messages';
import { REJECTION_TYPES, Rejection } from '../core/failures';
import { changeEvents, workflowIds, type PublishBatch } from '../core/events';
import { SA, orderSearchAttributes } from '../core/search-attributes';
import { DEFAULT_PAYMENT_TIMING } from '../core/payment';
import type { checkout } from '../workflows/checkout';
import { ApiError, conflict, notFound, validationError } from './errors';
import type { AppDeps, AuthContext } from './types';
import { loadItemForOrder } from './catalog-read';
import { executeUpdate } from './update-retry';
import { loadOrderSettings, type OrderSettings } from './settings-read';
import { writeOrderEvents } from '../db/order-events';
import { assignOrderNumber } from '../db/order-numbers';
import { prepared } from '../db/prepared';
import { findCustomer, findTable, seatOrder } from './floor-service';

const DEFAULT_ABANDON_AFTER_MS = 12 * 3600_000;

export interface LineInput {
  itemId: string;
  quantity: number;
  modifierIds?: string[];
  note?: string | null;
}

/** Turns a rejected Update (or a missing/finished workflow) into the contract's errors. */
export function updateError(err: unknown): ApiError | undefined {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
    const failure = err.cause;
    const path = (failure.details?.[0] as { path?: string } | undefined)?.path ?? '';
    if (failure.type === REJECTION_TYPES.validation)
      return validationError(failure.message, [{ path, message: failure.message }]);
    if (failure.type === REJECTION_TYPES.conflict) return conflict(failure.message);
    if (failure.type === REJECTION_TYPES.not_found) return new ApiError(404, 'NOT_FOUND', failure.message);
  }
  return undefined;
}

/** Resolves a cart line's item from the catalog; unknown items are a validation error at `path`. */
export async function resolveLine(
  deps: AppDeps,
  locationId: string,
  line: LineInput,
  path = '',
): Promise<order.AddLineRequest> {
  const item = await loadItemForOrder(deps.knex, locationId, line.itemId);
  if (!item)
    throw validationError('Unknown item', [{ path: `${path}itemId`, message: 'No such item in this location' }]);
  // "86": switched off, or a tracked item with nothing left. The item's state, not the input: 409.
  if (!item.available || (item.trackStock && item.stockQuantity <= 0)) throw conflict(`${item.name} is sold out`);
  return {
    item: {
      id: item.id,
      name: item.name,
      price: item.price,
      priceKind: item.priceKind,
      available: item.available,
      trackStock: item.trackStock,
      modifierLists: item.modifierLists,
    },
    quantity: line.quantity,
    modifierIds: line.modifierIds ?? [],
    note: line.note ?? null,
  };
}

function rejectionToApi(err: unknown): never {
  if (err instanceof Rejection) {
    if (err.kind === 'validation') throw validationError(err.message, [{ path: err.path ?? '', message: err.message }]);
    if (err.kind === 'conflict') throw conflict(err.message);
    throw notFound('Order');
  }
  throw err;
}

export interface CreateOrderBody {
  id?: string;
  type: order.OrderType;
  table?: string | null;
  customerName?: string | null;
  terminalId?: string | null;
  lines?: LineInput[];
  tableId?: string | null;
  /** Open a second check on a table that already has an open order. */
  newCheck?: boolean;
  customerId?: string | null;
}

/**
 * Opens an order: numbers it, applies its opening version here with the workflow's own pure
 * rules, starts its checkout workflow there (a plain start: no workflow task to wait for, no
 * Update; issue 10) and publishes that version. A repeated create with the same client id
 * returns the same order.
 */
export async function createOrder(
  deps: AppDeps,
  auth: AuthContext,
  body: CreateOrderBody,
  idempotencyKey?: string,
): Promise<{ created: boolean; snapshot: OrderSnapshot }> {
  // A client id, else one derived from the Idempotency-Key: either way a repeated create finds the same order.
  const orderId = body.id ?? (idempotencyKey ? uuidFromKey(`${auth.locationId}:${idempotencyKey}`) : randomUUID());
  const [existing, settings] = await Promise.all([
    persistedSnapshot(deps, orderId),
    loadOrderSettings(deps.knex, auth.locationId),
  ]);
  if (existing) return { created: false, snapshot: ownedOr404(existing, auth) };
  if (!settings) throw notFound('Location');
  const table = body.tableId ? await findTable(deps, auth, body.tableId) : undefined;
  const customer = body.customerId ? await findCustomer(deps, auth, body.customerId) : undefined;
  const now = new Date().toISOString();
  const state = newOrderState({ orderId, auth, body, settings, table, customer, now });
  await addInitialLines(deps, auth, state, body.lines ?? [], now);
  // Numbered here (idempotent per order), so the opening version is whole before the start.
  state.orderNumber = await assignOrderNumber(deps.knex, orderId, auth.locationId);
  state.version = 1;
  const snapshot = order.toSnapshot(state);
  // The table is claimed last, once nothing else can refuse the order.
  if (table) await seatOrder(deps, auth, orderId, table.id, body.newCheck === true);
  let runId: string;
  try {
    ({ firstExecutionRunId: runId } = await deps.temporal.workflow.start(
      'checkout',
      checkoutStart(deps, auth, body, state, settings.name),
    ));
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      return { created: false, snapshot: await reopened(deps, auth, orderId) };
    throw err;
  }
  // The run queues the same opening events first (same pure rules), so they are its first ones.
  const events = changeEvents(snapshot);
  publish(deps, { orderId, locationId: auth.locationId, events, snapshot, written: { runId, through: events.length } });
  return { created: true, snapshot };
}

/**
 * A repeated create: the order as it is now (its workflow answers while it runs). Another
 * location's order is not found; an id whose workflow ended without an order was used before.
 */
async function reopened(deps: AppDeps, auth: AuthContext, orderId: string): Promise<OrderSnapshot> {
  const closed = await persistedSnapshot(deps, orderId);
  if (closed) return ownedOr404(closed, auth);
  const handle = deps.temporal.workflow.getHandle(workflowIds.order(orderId));
  try {
    return publishAnswer(deps, await executeUpdate(handle, msg.openOrderUpdate, publishingCaller(deps, auth, orderId)));
  } catch (err) {
    const refused = updateError(err);
    if (refused) throw refused;
    if (err instanceof WorkflowNotFoundError || err instanceof WorkflowUpdateFailedError)
      throw conflict('This order id was used before');
    throw err;
  }
}

/** The state a checkout starts with: no lines yet, no number, the location's settings of now. */
function newOrderState(o: {
  orderId: string;
  auth: AuthContext;
  body: CreateOrderBody;
  settings: OrderSettings;
  table?: { id: string; name: string };
  customer?: { id: string; name: string };
  now: string;
}): OrderState {
  const { auth, body, settings, table, customer, now } = o;
  return {
    id: o.orderId,
    locationId: auth.locationId,
    staffId: auth.staffId,
    terminalId: body.terminalId ?? null,
    type: body.type,
    table: body.table ?? table?.name ?? null,
    customerName: body.customerName ?? customer?.name ?? null,
    ...(table ? { tableId: table.id } : {}),
    ...(customer ? { customerId: customer.id } : {}),
    orderNumber: null,
    status: 'open',
    kitchenStatus: 'not_sent',
    version: 0,
    lines: [],
    discounts: [],
    payments: [],
    refunded: 0,
    settings: {
      locationName: settings.name,
      currency: settings.currency,
      timezone: settings.timezone,
      taxRate: settings.taxRate,
      taxInclusive: settings.taxInclusive,
      serviceChargeRate: settings.serviceChargeRate,
      cardFee: settings.cardFee,
      discountsEnabled: settings.discountsEnabled,
      autoPrint: settings.autoPrint,
      receiptPrinter: settings.receiptPrinter,
    },
    createdAt: now,
    updatedAt: now,
    closedAt: null,
    cancelReason: null,
  };
}

/** Initial lines are checked with the same pure rules the workflow's validators use. */
async function addInitialLines(
  deps: AppDeps,
  auth: AuthContext,
  state: OrderState,
  lines: LineInput[],
  now: string,
): Promise<void> {
  for (const [i, line] of lines.entries()) {
    const req = await resolveLine(deps, auth.locationId, line, `lines[${i}].`);
    try {
      const mods = order.checkAddLine(state, req, `lines[${i}].`);
      order.applyAddLine(state, req, mods, randomUUID(), now);
    } catch (err) {
      rejectionToApi(err);
    }
  }
  state.version = 0;
}

/**
 * The checkout's start (its id is the idempotency key). It begins at the opening version the API
 * publishes, and with the search attributes as of it, so its first task writes none.
 */
function checkoutStart(
  deps: AppDeps,
  auth: AuthContext,
  body: CreateOrderBody,
  state: OrderState,
  locationName: string,
): WorkflowStartOptions<typeof checkout> {
  const gateways = Object.keys(deps.gateways ?? {}).length > 0;
  const opening = orderSearchAttributes(order.toSnapshot(state)).filter((a) => a.value !== null);
  return {
    workflowId: workflowIds.order(state.id),
    taskQueue: deps.config.taskQueue,
    args: [
      {
        state,
        abandonAfterMs: deps.config.orderAbandonAfterMs ?? DEFAULT_ABANDON_AFTER_MS,
        printOptions: deps.config.print,
        openedByApi: true,
        ...(gateways
          ? {
              payments: {
                publicBaseUrl: publicBaseUrl(deps),
                timing: deps.config.paymentTiming ?? DEFAULT_PAYMENT_TIMING,
              },
            }
          : {}),
      },
    ],
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: new TypedSearchAttributes([
      { key: SA.locationId, value: auth.locationId },
      { key: SA.staffId, value: auth.staffId },
      ...(opening as SearchAttributePair[]),
    ]),
    staticSummary: `${locationName}: ${body.type.replace('_', ' ')} order${body.table ? ` table ${body.table}` : ''} by ${auth.name}`,
    staticDetails: `Order ${state.id}\nLocation ${locationName} (${auth.locationId})\nStaff ${auth.name} (${auth.staffId})\nTerminal ${body.terminalId ?? '-'}\nCurrency ${state.settings.currency}`,
  };
}

function ownedOr404(snapshot: OrderSnapshot, auth: AuthContext): OrderSnapshot {
  if (snapshot.locationId !== auth.locationId) throw notFound('Order');
  return snapshot;
}

/** The projection row's snapshot once the order is no longer open (it is final then). */
async function persistedSnapshot(deps: AppDeps, orderId: string): Promise<OrderSnapshot | undefined> {
  const row = await prepared(deps.knex('orders').where('id', orderId).whereNot('status', 'open').first('snapshot'));
  return row?.snapshot as OrderSnapshot | undefined;
}

/** The live snapshot: a Query to the workflow while the order is open, the database after. */
export async function getOrder(deps: AppDeps, auth: AuthContext, orderId: string): Promise<OrderSnapshot> {
  const done = await persistedSnapshot(deps, orderId);
  if (done) return ownedOr404(done, auth);
  try {
    const snapshot = await deps.temporal.workflow.getHandle(workflowIds.order(orderId)).query(msg.snapshotQuery);
    return ownedOr404(snapshot, auth);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notFound('Order');
    throw err;
  }
}

/**
 * Sends a cart Update. `Idempotency-Key` becomes the Update id: Temporal returns the first
 * outcome for a repeated id instead of applying it again.
 */
export async function updateOrder<Ret, Arg extends msg.Caller>(
  deps: AppDeps,
  auth: AuthContext,
  orderId: string,
  def: UpdateDefinition<Ret, [Arg]>,
  arg: Omit<Arg, 'callerLocationId'>,
  idempotencyKey?: string,
): Promise<Ret> {
  const handle = deps.temporal.workflow.getHandle(workflowIds.order(orderId));
  const callerArg = { ...arg, ...publishingCaller(deps, auth, orderId) } as Arg;
  try {
    const updateId = idempotencyKey ? `${def.name}:${idempotencyKey}` : undefined;
    return publishAnswer(deps, await executeUpdate(handle, def, callerArg, updateId));
  } catch (err) {
    const mapped = updateError(err);
    if (mapped) throw mapped;
    // The client reports an Update on a finished workflow as not found too (gRPC NOT_FOUND); one
    // admitted just as the order closed fails with the workflow's completion: nothing applied.
    if (err instanceof WorkflowNotFoundError || err instanceof WorkflowUpdateFailedError) {
      const done = await persistedSnapshot(deps, orderId);
      if (done && done.locationId === auth.locationId) throw conflict(`Order is ${done.status}`);
      if (err instanceof WorkflowNotFoundError) throw notFound('Order');
    }
    throw err;
  }
}

/** This API as the caller of an order's Update: it publishes the answer, and says how far it wrote. */
function publishingCaller(deps: AppDeps, auth: AuthContext, orderId: string): msg.Caller {
  // Set even when undefined, so a client's body can never say what was written.
  return {
    callerLocationId: auth.locationId,
    publishes: true,
    compact: true,
    written: deps.writtenEvents?.get(orderId),
  };
}

/**
 * Publishes what a change's answer carries (events, projection, NOTIFY) at once, instead of the
 * workflow spending an activity and a task per change on it. The response does not wait for it
 * (before, publishing followed the answer too): NOTIFYing commits queue behind each other, and a
 * cashier should not. Writes may land in any order, since each batch repeats every event not yet
 * known to be durable (what this server wrote, its next change tells the run: WrittenEvents); if
 * one fails, or this process dies first, the workflow's catch-up writes the same rows.
 */
function publishAnswer<T>(deps: AppDeps, answer: T | msg.Published<T> | msg.Compact): T {
  if (!msg.isPublished(answer)) return answer; // from a worker older than this API
  const { published, batch } = msg.openAnswer<T>(answer);
  publish(deps, batch);
  return published;
}

function publish(deps: AppDeps, batch: PublishBatch): void {
  // One statement, so no transaction around it (see appendEvents).
  void writeOrderEvents(deps.knex, batch).then(
    () => noteWritten(deps, batch),
    (err) =>
      deps.logger.warn(
        { err: (err as Error).message, orderId: batch.orderId },
        'publishing a change failed; the workflow catches up',
      ),
  );
}

function noteWritten(deps: AppDeps, { orderId, snapshot, written }: PublishBatch): void {
  if (snapshot.status !== 'open') deps.writtenEvents?.forget(orderId);
  else if (written) deps.writtenEvents?.note(orderId, written);
}

/** Where gateways call back: PUBLIC_BASE_URL, else this API's own address. */
export function publicBaseUrl(deps: AppDeps): string {
  return (deps.config.publicBaseUrl ?? `http://127.0.0.1:${deps.config.port}`).replace(/\/+$/, '');
}

/** A stable UUID (version 8, name-based) for a string. */
export function uuidFromKey(key: string): string {
  const h = createHash('sha256').update(key).digest();
  h[6] = (h[6]! & 0x0f) | 0x80; // version 8
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
