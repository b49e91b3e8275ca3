/**
 * The order (cart) model shared by the checkout workflow, its update validators and the API.
 * Pure: imports nothing outside core/, so it runs inside the workflow sandbox.
 *
 * Each mutation has a `check*` (throws CartRejection, never changes state: used by Update
 * validators and by the API before it starts a workflow) and an `apply*` (changes state; only
 * called after its check passed).
 */
import { PricingSettings, Totals, cardFeeFor, priceOrder } from './pricing';
import { MAX_MONEY } from './money';
import { refundedOrderStatus } from './refund';
import { Rejection } from './failures';

export type OrderStatus = 'open' | 'closed' | 'cancelled' | 'partially_refunded' | 'refunded';
export type KitchenStatus = 'not_sent' | 'sent' | 'ready';
export type OrderType = 'dine_in' | 'takeaway';
export type PaymentMethod = 'cash' | 'card' | 'qr' | 'mpesa' | 'airtel' | 'loyalty';
export type PaymentStatus = 'pending' | 'succeeded' | 'failed' | 'cancelled' | 'refunded';

/** Which of the item's prices a line took: `event` while the location's pricing setting is `event`. */
export type PriceKind = 'regular' | 'event';

export const MAX_LINES = 200;
export const MAX_QUANTITY = 999;

/** An item as the catalog had it when it was added, resolved by the API (workflows do no I/O). */
export interface CatalogItem {
  id: string;
  name: string;
  /** The price this line takes (the API resolved regular or event pricing already). */
  price: number;
  /** Absent from APIs older than event pricing: regular. */
  priceKind?: PriceKind;
  available: boolean;
  trackStock: boolean;
  modifierLists: CatalogModifierList[];
}
export interface CatalogModifierList {
  id: string;
  name: string;
  minSelections: number;
  maxSelections: number;
  available: boolean;
  modifiers: { id: string; name: string; price: number; available: boolean }[];
}

export interface OrderSettings extends PricingSettings {
  locationName: string;
  currency: string;
  timezone: string;
  autoPrint: { receipt: boolean; kitchen: boolean; orderNumber: boolean };
  /**
   * Whether the location had an enabled receipt printer when the order opened (absent in runs
   * from before this setting: assumed so). Without one, no receipt-printer job is started.
   */
  receiptPrinter?: boolean;
}

export interface LineModifier {
  id: string;
  name: string;
  price: number;
}
export interface LineState {
  id: string;
  itemId: string;
  name: string;
  quantity: number;
  unitPrice: number;
  /** Absent on lines from before event pricing: regular. */
  priceKind?: PriceKind;
  modifiers: LineModifier[];
  note: string | null;
  trackStock: boolean;
  /** Quantity already sent to the kitchen (a later submit sends only what was added since). */
  sentQuantity: number;
  /** Of it, what a kitchen screen has bumped (absent until one does). */
  readyQuantity?: number;
  /** The item's modifier lists, kept so a later modifier change is validated against them. */
  rules: CatalogModifierList[];
}
export interface AppliedDiscount {
  id: string;
  name: string;
  type: 'percent' | 'amount';
  value: number;
}

/**
 * What the API found about the manager approval a change may need: 'approved' (a manager's PIN
 * came with it) or 'none' (none was needed when it looked). The rules look again at the order as
 * it is when the change applies, so a line or order that reached the kitchen in between, or a
 * discount that became a bigger share, still needs the approval (409: send it again with a PIN).
 * Absent, from an API older than this: not looked at again.
 */
export interface ApprovalSeen {
  approval?: 'approved' | 'none';
  /** With approval 'none' on a discount: the location's approvalDiscountPercent the API applied. */
  approvalDiscountPercent?: number | null;
}

/** The share of the subtotal a discount takes, in percent (percent discounts are in basis points). */
export function discountPercent(d: { type: 'percent' | 'amount'; value: number }, subtotal: number): number {
  if (d.type === 'percent') return d.value / 100;
  return subtotal > 0 ? (d.value * 100) / subtotal : 100;
}

const needsApprovalNow = (seen: ApprovalSeen | undefined, needed: boolean, what: string) => {
  if (seen?.approval === 'none' && needed)
    throw conflict(`${what} needs a manager's approval now: send it again with X-Approver-Pin and a reason`);
};
export interface PaymentAction {
  type: 'show_qr' | 'confirm_on_phone' | 'present_card';
  url?: string;
  image?: string;
  message?: string;
}
export interface PaymentState {
  id: string;
  seq: number;
  orderId: string;
  method: PaymentMethod;
  provider: string | null;
  status: PaymentStatus;
  amount: number;
  tip: number;
  fee: number;
  tendered?: number;
  change?: number;
  reference?: string;
  failureReason?: string;
  action?: PaymentAction;
  sandbox?: boolean;
  /** Money moved after the payment was cancelled or had failed; it was refunded automatically. */
  autoRefunded?: boolean;
  workflowId?: string;
  /** Refunded so far (succeeded refunds), once a refund of this payment was recorded. */
  refunded?: number;
  /** Loyalty payments: the points it was paid with. */
  points?: number;
  /** The terminal that took it (its cash counts into that terminal's drawer); absent on older payments. */
  terminalId?: string;
  createdAt: string;
  settledAt: string | null;
}

/** A refund as the order records it (the refund workflow signals each change of its status). */
export interface RecordedRefund {
  id: string;
  paymentId: string;
  amount: number;
  status: 'pending' | 'succeeded' | 'failed';
}

export interface OrderState {
  id: string;
  locationId: string;
  staffId: string;
  terminalId: string | null;
  type: OrderType;
  table: string | null;
  customerName: string | null;
  /** The floor table and the customer (absent on orders from before tables and customers). */
  tableId?: string | null;
  customerId?: string | null;
  orderNumber: number | null;
  status: OrderStatus;
  kitchenStatus: KitchenStatus;
  version: number;
  lines: LineState[];
  discounts: AppliedDiscount[];
  payments: PaymentState[];
  refunded: number;
  /**
   * Of `refunded`, what came back while the order was open: due again, so it is on the balance.
   * Set only by runs that record refunds this way (absent in older runs and histories).
   */
  returnedBeforeSale?: number;
  /** Refunds recorded while the checkout ran, by refund id (absent until the first one). */
  refunds?: Record<string, RecordedRefund>;
  settings: OrderSettings;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  cancelReason: string | null;
}

export interface OrderSnapshot {
  id: string;
  orderNumber: number | null;
  locationId: string;
  status: OrderStatus;
  kitchenStatus: KitchenStatus;
  type: OrderType;
  table: string | null;
  customerName: string | null;
  tableId: string | null;
  customerId: string | null;
  staffId: string;
  terminalId: string | null;
  currency: string;
  version: number;
  lines: {
    id: string;
    itemId: string;
    name: string;
    quantity: number;
    unitPrice: number;
    priceKind: PriceKind;
    modifiers: LineModifier[];
    note: string | null;
    total: number;
    kitchenStatus: KitchenStatus;
  }[];
  discounts: { id: string; name: string; type: 'percent' | 'amount'; value: number; amount: number }[];
  totals: Totals;
  payments: PublicPayment[];
  cancelReason: string | null;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  /** Set once by the closing transaction of a sold order (per-location, gap-free); absent before. */
  receiptNumber?: number;
}
export type PublicPayment = Omit<PaymentState, 'workflowId' | 'seq'>;

/** Why a mutation was refused: `validation` → 422, `conflict` (the order's state) → 409, `not_found` → 404. */
export class CartRejection extends Rejection {}
const invalid = (path: string, message: string) => new CartRejection('validation', message, path);
const conflict = (message: string) => new CartRejection('conflict', message);

// ---- requests ----------------------------------------------------------------------------

export interface AddLineRequest {
  item: CatalogItem;
  quantity: number;
  modifierIds: string[];
  note?: string | null;
}
export interface UpdateLineRequest {
  lineId: string;
  quantity?: number;
  modifierIds?: string[];
  note?: string | null;
}
export interface OrderDetailsRequest {
  type?: OrderType;
  table?: string | null;
  customerName?: string | null;
  /** Resolved by the API (the table and customer exist; the table is claimed). */
  tableId?: string | null;
  customerId?: string | null;
}
export interface CashPaymentRequest {
  method: 'cash';
  amount: number;
  tendered: number;
}

// ---- reads -------------------------------------------------------------------------------

/** What pricing needs of a cart; a check prices the cart as a change would leave it. */
interface Cart {
  lines: Pick<LineState, 'unitPrice' | 'quantity' | 'modifiers'>[];
  discounts: AppliedDiscount[];
}

export function price(state: OrderState, cart: Cart = state) {
  return priceOrder({
    lines: cart.lines.map((l) => ({ unitPrice: l.unitPrice, quantity: l.quantity, modifiers: l.modifiers })),
    discounts: cart.discounts,
    payments: state.payments,
    refunded: state.refunded,
    returnedBeforeSale: state.returnedBeforeSale,
    settings: state.settings,
  });
}

export function toSnapshot(state: OrderState): OrderSnapshot {
  const priced = price(state);
  return {
    id: state.id,
    orderNumber: state.orderNumber,
    locationId: state.locationId,
    status: state.status,
    kitchenStatus: state.kitchenStatus,
    type: state.type,
    table: state.table,
    customerName: state.customerName,
    tableId: state.tableId ?? null,
    customerId: state.customerId ?? null,
    staffId: state.staffId,
    terminalId: state.terminalId,
    currency: state.settings.currency,
    version: state.version,
    lines: state.lines.map((l, i) => ({
      id: l.id,
      itemId: l.itemId,
      name: l.name,
      quantity: l.quantity,
      unitPrice: l.unitPrice,
      priceKind: l.priceKind ?? 'regular',
      modifiers: l.modifiers,
      note: l.note,
      total: priced.lineTotals[i]!,
      kitchenStatus: lineKitchenStatus(state, l),
    })),
    discounts: state.discounts.map((d, i) => ({
      id: d.id,
      name: d.name,
      type: d.type,
      value: d.value,
      amount: priced.discountAmounts[i]!,
    })),
    totals: priced.totals,
    payments: state.payments.map(publicPayment),
    cancelReason: state.cancelReason,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    closedAt: state.closedAt,
  };
}

/**
 * A line is with the kitchen once any of it was sent (a void then needs a manager), ready with its
 * order or once its screen has bumped all of it that was sent.
 */
export function lineKitchenStatus(state: OrderState, line: LineState): KitchenStatus {
  if (line.sentQuantity === 0) return 'not_sent';
  return state.kitchenStatus === 'ready' || lineBumped(line) ? 'ready' : 'sent';
}

const lineBumped = (line: LineState) => (line.readyQuantity ?? 0) >= line.sentQuantity;

export function publicPayment(p: PaymentState): PublicPayment {
  const { workflowId: _w, seq: _s, ...rest } = p;
  return rest;
}

export function balance(state: OrderState): number {
  return price(state).totals.balance;
}

export function hasSucceededPayment(state: OrderState): boolean {
  return state.payments.some((p) => p.status === 'succeeded' || p.status === 'refunded');
}

export function hasPendingPayment(state: OrderState): boolean {
  return state.payments.some((p) => p.status === 'pending');
}

/** Lines (and quantities) not yet on a kitchen ticket. */
export function unsentLines(state: OrderState): { line: LineState; quantity: number }[] {
  return state.lines
    .filter((l) => l.quantity > l.sentQuantity)
    .map((line) => ({ line, quantity: line.quantity - line.sentQuantity }));
}

// ---- checks ------------------------------------------------------------------------------

/** Orders are scoped by location: another location's caller is told it does not exist. */
export function checkCaller(state: OrderState, caller: { callerLocationId?: string } | undefined): void {
  if (!caller || caller.callerLocationId !== state.locationId) throw new CartRejection('not_found', 'Order not found');
}

function requireOpen(state: OrderState): void {
  if (state.status !== 'open') throw conflict(`Order is ${state.status}`);
}

/** The cart may not change while a gateway payment is in flight: the amount was quoted already. */
function requireNoPendingPayment(state: OrderState): void {
  if (hasPendingPayment(state)) throw conflict('A payment is pending; cancel it before changing the order');
}

function checkQuantity(quantity: unknown, path: string): void {
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity <= 0)
    throw invalid(path, 'quantity must be a whole number of at least 1');
  if (quantity > MAX_QUANTITY) throw invalid(path, `quantity may be at most ${MAX_QUANTITY}`);
}

function checkMoney(value: number, path: string): void {
  if (value > MAX_MONEY) throw invalid(path, `amounts may be at most ${MAX_MONEY} minor units`);
}

/**
 * The cart as a change would leave it, compared with the cart as it is: a change may not raise a
 * line or the total past MAX_MONEY (so no stored figure can overflow its column; the quantity
 * bound keeps the arithmetic exact), nor lower the total below what has been paid (net of
 * refunds), or the order could never close. Comparing with the current cart lets an order from
 * before these rules still be put right.
 */
function checkCartTotals(state: OrderState, next: Partial<Cart>, path: string): void {
  const before = price(state).totals;
  const after = price(state, { lines: next.lines ?? state.lines, discounts: next.discounts ?? state.discounts }).totals;
  const risesPastCap = (k: 'subtotal' | 'total') => after[k] > MAX_MONEY && after[k] > before[k];
  if (risesPastCap('subtotal') || risesPastCap('total'))
    throw invalid(path, `the order total may be at most ${MAX_MONEY} minor units`);
  // The money kept: paid less what came back before the sale (that is due again). A total below
  // it would hide the overpayment and close the order; a refunded order is cancelled instead.
  const paid = after.paid - (state.returnedBeforeSale ?? 0);
  if (after.total < paid && after.total < before.total)
    throw conflict(`This change would take the total to ${after.total}, below the ${paid} already paid: refund first`);
}

function checkNote(note: unknown, path: string): void {
  if (note !== undefined && note !== null && (typeof note !== 'string' || note.length > 200))
    throw invalid(path, 'note must be text of at most 200 characters');
}

/** Resolves modifier ids against an item's lists, enforcing availability and min/max per list. */
export function resolveModifiers(
  rules: CatalogModifierList[],
  modifierIds: unknown,
  path = 'modifierIds',
): LineModifier[] {
  if (!Array.isArray(modifierIds) || modifierIds.some((m) => typeof m !== 'string'))
    throw invalid(path, 'modifierIds must be a list of ids');
  if (new Set(modifierIds).size !== modifierIds.length) throw invalid(path, 'a modifier may be chosen once');
  const chosen: LineModifier[] = [];
  modifierIds.forEach((id: string, i) => {
    const list = rules.find((l) => l.modifiers.some((m) => m.id === id));
    const modifier = list?.modifiers.find((m) => m.id === id);
    if (!list || !modifier) throw invalid(`${path}[${i}]`, "modifier is not in any of the item's modifier lists");
    if (!list.available || !modifier.available) throw invalid(`${path}[${i}]`, `${modifier.name} is not available`);
    chosen.push({ id: modifier.id, name: modifier.name, price: modifier.price });
  });
  for (const list of rules) {
    if (!list.available) continue;
    const count = chosen.filter((c) => list.modifiers.some((m) => m.id === c.id)).length;
    if (count < list.minSelections) throw invalid(path, `${list.name}: choose at least ${list.minSelections}`);
    if (count > list.maxSelections) throw invalid(path, `${list.name}: choose at most ${list.maxSelections}`);
  }
  return chosen;
}

export function checkAddLine(state: OrderState, req: AddLineRequest, path = ''): LineModifier[] {
  requireOpen(state);
  requireNoPendingPayment(state);
  if (state.lines.length >= MAX_LINES) throw invalid(path || 'lines', `an order may have at most ${MAX_LINES} lines`);
  if (!req.item.available) throw invalid(`${path}itemId`, `${req.item.name} is not available`);
  checkQuantity(req.quantity, `${path}quantity`);
  checkNote(req.note, `${path}note`);
  checkMoney(req.item.price, `${path}itemId`);
  const modifiers = resolveModifiers(req.item.modifierLists, req.modifierIds ?? [], `${path}modifierIds`);
  modifiers.forEach((m, i) => checkMoney(m.price, `${path}modifierIds[${i}]`));
  checkCartTotals(
    state,
    { lines: [...state.lines, { unitPrice: req.item.price, quantity: req.quantity, modifiers }] },
    `${path}quantity`,
  );
  return modifiers;
}

function findLine(state: OrderState, lineId: string): LineState {
  const line = state.lines.find((l) => l.id === lineId);
  if (!line) throw new CartRejection('validation', 'No such line on this order', 'lineId');
  return line;
}

export function checkUpdateLine(state: OrderState, req: UpdateLineRequest): LineModifier[] | undefined {
  requireOpen(state);
  requireNoPendingPayment(state);
  const line = findLine(state, req.lineId);
  if (req.quantity === undefined && req.modifierIds === undefined && req.note === undefined)
    throw invalid('', 'nothing to change');
  if (req.quantity !== undefined) checkQuantity(req.quantity, 'quantity');
  checkNote(req.note, 'note');
  const modifiers = req.modifierIds === undefined ? undefined : resolveModifiers(line.rules, req.modifierIds);
  modifiers?.forEach((m, i) => checkMoney(m.price, `modifierIds[${i}]`));
  const changed = { ...line, quantity: req.quantity ?? line.quantity, modifiers: modifiers ?? line.modifiers };
  checkCartTotals(
    state,
    { lines: state.lines.map((l) => (l === line ? changed : l)) },
    req.quantity !== undefined ? 'quantity' : 'modifierIds',
  );
  return modifiers;
}

export function checkRemoveLine(state: OrderState, lineId: string, seen?: ApprovalSeen): void {
  requireOpen(state);
  requireNoPendingPayment(state);
  const line = findLine(state, lineId);
  needsApprovalNow(seen, lineKitchenStatus(state, line) !== 'not_sent', 'The kitchen has this line: voiding it');
  checkCartTotals(state, { lines: state.lines.filter((l) => l.id !== lineId) }, 'lineId');
}

export function checkAddDiscount(
  state: OrderState,
  discount: AppliedDiscount & { available?: boolean } & ApprovalSeen,
): void {
  requireOpen(state);
  requireNoPendingPayment(state);
  if (!state.settings.discountsEnabled) throw conflict('Discounts are turned off in settings');
  if (discount.available === false) throw invalid('discountId', `${discount.name} is not available`);
  if (state.discounts.some((d) => d.id === discount.id)) throw conflict(`${discount.name} is already applied`);
  if (discount.type === 'amount') checkMoney(discount.value, 'discountId');
  const limit = discount.approvalDiscountPercent;
  needsApprovalNow(
    discount,
    typeof limit === 'number' && discountPercent(discount, price(state).totals.subtotal) > limit,
    `A discount above ${limit}%`,
  );
  checkCartTotals(state, { discounts: [...state.discounts, discount] }, 'discountId');
}

export function checkRemoveDiscount(state: OrderState, discountId: string): void {
  requireOpen(state);
  requireNoPendingPayment(state);
  if (!state.discounts.some((d) => d.id === discountId))
    throw invalid('discountId', 'That discount is not on this order');
  checkCartTotals(state, { discounts: state.discounts.filter((d) => d.id !== discountId) }, 'discountId');
}

export function checkDetails(state: OrderState, req: OrderDetailsRequest): void {
  requireOpen(state);
  if (req.type !== undefined && req.type !== 'dine_in' && req.type !== 'takeaway')
    throw invalid('type', 'type must be dine_in or takeaway');
  for (const key of ['table', 'customerName'] as const) {
    const v = req[key];
    if (v !== undefined && v !== null && (typeof v !== 'string' || v.length > 80))
      throw invalid(key, `${key} must be text of at most 80 characters`);
  }
  for (const key of ['tableId', 'customerId'] as const) {
    const v = req[key];
    if (v !== undefined && v !== null && (typeof v !== 'string' || v.length > 64))
      throw invalid(key, `${key} must be an id`);
  }
}

export function checkSubmit(state: OrderState): void {
  requireOpen(state);
  if (state.lines.length === 0) throw conflict('The order has no lines to send');
  if (unsentLines(state).length === 0) throw conflict('Everything on this order is already with the kitchen');
}

export function checkReady(state: OrderState): void {
  if (state.status === 'cancelled') throw conflict('Order is cancelled');
  if (state.kitchenStatus !== 'sent')
    throw conflict(
      state.kitchenStatus === 'ready' ? 'Order is already ready' : 'Order has not been sent to the kitchen',
    );
}

/** A screen's bump: the screen must show a sent line of this order that it has not bumped yet. */
export function checkScreenReady(state: OrderState, lineIds: string[]): void {
  checkReady(state);
  const mine = screenLines(state, lineIds);
  if (mine.length === 0) throw conflict('This screen shows nothing of this order that was sent');
  if (mine.every(lineBumped)) throw conflict('This screen has already bumped its lines of this order');
}

const screenLines = (state: OrderState, lineIds: string[]) =>
  state.lines.filter((l) => l.sentQuantity > 0 && lineIds.includes(l.id));

/** Marks a screen's lines ready; the order is ready (returns true) once every sent line is. */
export function applyScreenReady(state: OrderState, lineIds: string[], now: string): boolean {
  for (const line of screenLines(state, lineIds)) line.readyQuantity = line.sentQuantity;
  const allReady = state.lines.every((l) => l.sentQuantity === 0 || lineBumped(l));
  if (allReady) state.kitchenStatus = 'ready';
  touch(state, now);
  return allReady;
}

export function checkCancel(state: OrderState, reason: unknown, seen?: ApprovalSeen): void {
  requireOpen(state);
  needsApprovalNow(seen, state.kitchenStatus !== 'not_sent', 'The kitchen has this order: cancelling it');
  if (hasPendingPayment(state))
    throw conflict('A payment is pending: cancel it (or wait for it) before cancelling the order');
  if (hasSucceededPayment(state) && price(state).totals.paid > state.refunded)
    throw conflict('A payment has succeeded on this order: refund it instead of cancelling');
  if (typeof reason !== 'string' || reason.trim().length === 0 || reason.length > 200)
    throw invalid('reason', 'reason is required (at most 200 characters)');
}

/** A new payment towards the balance. Cash may be tendered above the amount; others may not exceed it. */
export function checkPayment(
  state: OrderState,
  req: { method: PaymentMethod; amount: number; tendered?: number; tip?: number; deviceId?: string; sourceId?: string },
): void {
  requireOpen(state);
  // A card is charged on a reader or with a card token; with neither the gateway can only fail.
  if (req.method === 'card' && !req.deviceId && !req.sourceId)
    throw invalid('deviceId', 'a card payment needs a deviceId (reader) or a sourceId (card token)');
  requireNoPendingPayment(state);
  if (state.lines.length === 0) throw conflict('The order has no lines');
  const due = balance(state);
  if (due === 0) {
    // A fully discounted order (a staff meal) closes with a "no charge" cash payment of 0.
    const noCharge =
      req.method === 'cash' && req.amount === 0 && !hasSucceededPayment(state) && price(state).totals.total === 0;
    if (noCharge) return;
    throw conflict('Nothing is due on this order');
  }
  if (!Number.isInteger(req.amount) || req.amount <= 0)
    throw invalid('amount', 'amount must be a positive integer in minor units');
  if (req.amount > due) throw invalid('amount', `amount may not exceed the balance of ${due}`);
  if (req.tip !== undefined && (!Number.isInteger(req.tip) || req.tip < 0))
    throw invalid('tip', 'tip must be a non-negative integer');
  if (req.method === 'cash') {
    // A cash tip is handed over with the amount: tendered must cover both.
    if (!Number.isInteger(req.tendered) || (req.tendered as number) < req.amount + (req.tip ?? 0))
      throw invalid('tendered', 'tendered must be at least the amount plus the tip');
    checkMoney(req.tendered as number, 'tendered');
  }
  checkPaymentTotal(state, req);
}

/** Tip and card fee join the order total: it stays within MAX_MONEY with them. */
function checkPaymentTotal(state: OrderState, req: { method: PaymentMethod; amount: number; tip?: number }): void {
  const tip = req.tip ?? 0;
  checkMoney(tip, 'tip');
  const fee = req.method === 'card' ? cardFeeFor(req.amount, state.settings) : 0;
  if (price(state).totals.total + tip + fee > MAX_MONEY)
    throw invalid('tip', `the order total may be at most ${MAX_MONEY} minor units`);
}

// ---- applies -----------------------------------------------------------------------------

function touch(state: OrderState, now: string): void {
  state.version += 1;
  state.updatedAt = now;
}

export function applyAddLine(
  state: OrderState,
  req: AddLineRequest,
  modifiers: LineModifier[],
  lineId: string,
  now: string,
): LineState {
  const line: LineState = {
    id: lineId,
    itemId: req.item.id,
    name: req.item.name,
    quantity: req.quantity,
    unitPrice: req.item.price,
    // Only event lines carry it, so a regular line's state stays as it was before event pricing.
    ...(req.item.priceKind === 'event' ? { priceKind: 'event' as const } : {}),
    modifiers,
    note: req.note ?? null,
    trackStock: req.item.trackStock,
    sentQuantity: 0,
    rules: req.item.modifierLists,
  };
  state.lines.push(line);
  touch(state, now);
  return line;
}

export function applyUpdateLine(
  state: OrderState,
  req: UpdateLineRequest,
  modifiers: LineModifier[] | undefined,
  now: string,
): void {
  const line = findLine(state, req.lineId);
  if (req.quantity !== undefined) line.quantity = req.quantity;
  if (modifiers) line.modifiers = modifiers;
  if (req.note !== undefined) line.note = req.note;
  line.sentQuantity = Math.min(line.sentQuantity, line.quantity);
  touch(state, now);
}

export function applyRemoveLine(state: OrderState, lineId: string, now: string): void {
  state.lines = state.lines.filter((l) => l.id !== lineId);
  touch(state, now);
}

export function applyAddDiscount(state: OrderState, d: AppliedDiscount, now: string): void {
  state.discounts.push({ id: d.id, name: d.name, type: d.type, value: d.value });
  touch(state, now);
}

export function applyRemoveDiscount(state: OrderState, discountId: string, now: string): void {
  state.discounts = state.discounts.filter((d) => d.id !== discountId);
  touch(state, now);
}

export function applyDetails(state: OrderState, req: OrderDetailsRequest, now: string): void {
  if (req.type !== undefined) state.type = req.type;
  if (req.table !== undefined) state.table = req.table;
  if (req.customerName !== undefined) state.customerName = req.customerName;
  if (req.tableId !== undefined) state.tableId = req.tableId;
  if (req.customerId !== undefined) state.customerId = req.customerId;
  touch(state, now);
}

/** Marks unsent quantities as sent and returns what the kitchen ticket must show. */
export function applySubmit(
  state: OrderState,
  now: string,
): { itemId: string; name: string; quantity: number; modifiers: string[]; note: string | null }[] {
  const ticket = unsentLines(state).map(({ line, quantity }) => {
    line.sentQuantity = line.quantity;
    return {
      itemId: line.itemId,
      name: line.name,
      quantity,
      modifiers: line.modifiers.map((m) => m.name),
      note: line.note,
    };
  });
  state.kitchenStatus = 'sent';
  touch(state, now);
  return ticket;
}

/** A line of an amendment ticket: what the kitchen must now cook of a line it already has. */
export interface AmendedLine {
  itemId: string;
  name: string;
  quantity: number;
  modifiers: string[];
  note: string | null;
  change: 'amended' | 'void';
  /** The quantity the kitchen had, when it changed. */
  previousQuantity?: number;
}

/**
 * What the kitchen must be told when a line changes (`after` undefined: removed), or undefined
 * when it had none of it or nothing it cooks changed. A quantity raised is no amendment: the
 * extra goes on the next submit like any new quantity.
 */
export function amendmentOf(before: LineState, after: LineState | undefined): AmendedLine | undefined {
  if (before.sentQuantity === 0) return undefined;
  const of = (l: LineState, change: AmendedLine['change'], quantity: number): AmendedLine => ({
    itemId: l.itemId,
    name: l.name,
    quantity,
    modifiers: l.modifiers.map((m) => m.name),
    note: l.note,
    change,
    ...(quantity !== before.sentQuantity ? { previousQuantity: before.sentQuantity } : {}),
  });
  if (!after) return of(before, 'void', before.sentQuantity);
  const modifierIds = (l: LineState) => l.modifiers.map((m) => m.id).join(',');
  const changed =
    after.sentQuantity !== before.sentQuantity ||
    modifierIds(after) !== modifierIds(before) ||
    after.note !== before.note;
  return changed ? of(after, 'amended', after.sentQuantity) : undefined;
}

export function applyReady(state: OrderState, now: string): void {
  state.kitchenStatus = 'ready';
  touch(state, now);
}

export function applyCancel(state: OrderState, reason: string, now: string): void {
  state.status = 'cancelled';
  state.cancelReason = reason.trim();
  state.closedAt = now;
  touch(state, now);
}

export function newPayment(
  state: OrderState,
  req: {
    method: PaymentMethod;
    provider?: string | null;
    amount: number;
    tip?: number;
    tendered?: number;
    terminalId?: string;
  },
  id: string,
  now: string,
): PaymentState {
  const isCash = req.method === 'cash';
  const terminalId = req.terminalId ?? state.terminalId;
  return {
    id,
    seq: state.payments.length + 1,
    orderId: state.id,
    method: req.method,
    provider: req.provider ?? null,
    status: isCash ? 'succeeded' : 'pending',
    amount: req.amount,
    tip: req.tip ?? 0,
    fee: req.method === 'card' ? cardFeeFor(req.amount, state.settings) : 0,
    ...(isCash ? { tendered: req.tendered!, change: req.tendered! - req.amount - (req.tip ?? 0) } : {}),
    ...(terminalId ? { terminalId } : {}),
    createdAt: now,
    settledAt: isCash ? now : null,
  };
}

export function applyPayment(state: OrderState, payment: PaymentState, now: string): void {
  state.payments.push(payment);
  touch(state, now);
}

/**
 * Applies a payment workflow's report. A pending payment takes the report as it is; a payment
 * already cancelled here only learns that a late success was refunded (it never counts as paid).
 */
export function applyPaymentUpdate(
  state: OrderState,
  update: Pick<PaymentState, 'id'> &
    Partial<
      Pick<PaymentState, 'status' | 'reference' | 'action' | 'failureReason' | 'sandbox' | 'autoRefunded' | 'settledAt'>
    >,
  now: string,
): PaymentState | undefined {
  const p = state.payments.find((x) => x.id === update.id);
  if (!p) return undefined;
  if (p.status !== 'pending') {
    if (!update.autoRefunded || p.autoRefunded) return undefined;
    p.autoRefunded = true;
    p.failureReason = update.failureReason ?? p.failureReason;
  } else {
    for (const key of [
      'status',
      'reference',
      'action',
      'failureReason',
      'sandbox',
      'autoRefunded',
      'settledAt',
    ] as const) {
      if (update[key] !== undefined) (p as unknown as Record<string, unknown>)[key] = update[key];
    }
    if (p.status !== 'pending' && !p.settledAt) p.settledAt = now;
  }
  touch(state, now);
  return p;
}

export function checkCancelPayment(state: OrderState, paymentId: string): PaymentState {
  const p = state.payments.find((x) => x.id === paymentId);
  if (!p) throw new CartRejection('not_found', 'Payment not found');
  if (p.status !== 'pending') throw conflict(`Payment is ${p.status}`);
  return p;
}

export function checkResolvePayment(
  state: OrderState,
  req: { paymentId: string; outcome: unknown; reason: unknown },
): PaymentState {
  const p = checkCancelPayment(state, req.paymentId);
  if (req.outcome !== 'succeeded' && req.outcome !== 'failed')
    throw invalid('outcome', 'outcome must be succeeded or failed');
  if (typeof req.reason !== 'string' || !req.reason.trim()) throw invalid('reason', 'reason is required');
  return p;
}

/** An order closes when something was sold and nothing is due. */
export function isFullyPaid(state: OrderState): boolean {
  return (
    state.status === 'open' &&
    state.lines.length > 0 &&
    !hasPendingPayment(state) &&
    balance(state) === 0 &&
    hasSucceededPayment(state)
  );
}

/** A sold order's status from the refunds after its sale (those before it were collected again). */
function soldStatus(state: OrderState): OrderStatus {
  const before = state.returnedBeforeSale ?? 0;
  return refundedOrderStatus('closed', price(state).totals.paid - before, state.refunded - before);
}

export function applyClose(state: OrderState, now: string): void {
  state.status = soldStatus(state);
  state.closedAt = now;
  touch(state, now);
}

/** Closed, possibly refunded since: the order was sold (not open, not cancelled). */
export function wasSold(state: OrderState): boolean {
  return state.status !== 'open' && state.status !== 'cancelled';
}

/**
 * Records a refund's new status: each payment's refunded sum (and status `refunded` once all of it
 * is back), the order's `refunded` and, once sold, its status. False for a repeat or a status
 * that is not news (a settled refund never goes back to pending), so a redelivered signal changes
 * nothing.
 */
export function applyRefund(
  state: OrderState,
  refund: RecordedRefund,
  now: string,
  opts: { reopensBalance?: boolean } = {},
): boolean {
  const known = state.refunds?.[refund.id];
  if (known && (known.status === refund.status || known.status !== 'pending')) return false;
  if (!state.payments.some((p) => p.id === refund.paymentId)) return false;
  state.refunds = {
    ...state.refunds,
    [refund.id]: { id: refund.id, paymentId: refund.paymentId, amount: refund.amount, status: refund.status },
  };
  const succeeded = Object.values(state.refunds).filter((r) => r.status === 'succeeded');
  for (const p of state.payments) {
    const refunded = succeeded.filter((r) => r.paymentId === p.id).reduce((a, r) => a + r.amount, 0);
    if (refunded === 0 && p.refunded === undefined) continue;
    p.refunded = refunded;
    if (refunded > 0 && refunded >= p.amount + p.tip + p.fee) p.status = 'refunded';
  }
  state.refunded = succeeded.reduce((a, r) => a + r.amount, 0);
  // Still open: every refund so far came before the sale.
  if (state.status === 'open' && opts.reopensBalance) state.returnedBeforeSale = state.refunded;
  if (wasSold(state)) state.status = soldStatus(state);
  touch(state, now);
  return true;
}
