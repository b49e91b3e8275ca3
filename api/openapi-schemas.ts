import { WEEKDAYS } from '../core/pricing-schedule';

/**
 * JSON Schemas of what the handlers return, shared as OpenAPI components (#/components/schemas/…).
 * They state the fields every response carries (required) and their types; objects stay open
 * (extra fields may be added without breaking clients). Route specs refer to them with `ref()`.
 */
type JsonSchema = Record<string, unknown>;

const str: JsonSchema = { type: 'string' };
const id: JsonSchema = { type: 'string', format: 'uuid' };
const int: JsonSchema = { type: 'integer' };
const bool: JsonSchema = { type: 'boolean' };
const time: JsonSchema = { type: 'string', format: 'date-time' };
const nullable = (s: JsonSchema): JsonSchema => ({ ...s, type: [s.type as string, 'null'] });
const list = (items: JsonSchema): JsonSchema => ({ type: 'array', items });
/** An object whose every listed property is always present. */
export const object = (
  properties: Record<string, JsonSchema>,
  optional: Record<string, JsonSchema> = {},
): JsonSchema => ({
  type: 'object',
  required: Object.keys(properties),
  properties: { ...properties, ...optional },
});
export const ref = (name: keyof typeof componentSchemas): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
export const listOf = (name: keyof typeof componentSchemas): JsonSchema => list(ref(name));

const role = { type: 'string', enum: ['owner', 'admin', 'manager', 'cashier', 'kitchen'] };
const paymentMethod = { type: 'string', enum: ['cash', 'card', 'qr', 'mpesa', 'airtel', 'loyalty'] };
const byMethod = object(Object.fromEntries(['cash', 'card', 'qr', 'mpesa', 'airtel', 'loyalty'].map((m) => [m, int])));
const reportTotals = {
  orders: int,
  gross: int,
  discounts: int,
  net: int,
  tax: int,
  serviceCharge: int,
  tips: int,
  cardFees: int,
  refunds: int,
  refundsByMethod: byMethod,
  netAfterRefunds: int,
  byMethod,
  byStaff: list(object({ staffId: nullable(str), name: nullable(str), orders: int, net: int, tips: int })),
  byCategory: list(object({ categoryId: nullable(str), name: nullable(str), quantity: int, net: int })),
  topItems: list(object({ itemId: nullable(str), name: str, quantity: int, net: int })),
  byHour: list(object({ hour: { type: 'integer', minimum: 0, maximum: 23 }, orders: int, net: int })),
};
/** A customer display as listed (Display adds who created it, DisplayIssued its token). */
const display = { id, name: str, terminalId: str, createdAt: time };
/** A kitchen screen as listed, fetched and updated (KitchenScreenIssued adds its token). */
const kitchenScreen = {
  id,
  name: str,
  address: nullable(str),
  categoryIds: nullable(list(id)),
  topic: str,
  createdBy: nullable(id),
  createdAt: time,
  updatedAt: time,
};
const staffReportRow = {
  staffId: nullable(str),
  name: nullable(str),
  orders: int,
  net: int,
  tips: int,
  workedMinutes: int,
  workedHours: { type: 'number' },
  netPerHour: nullable(int),
};
const shift = object({
  id,
  staffId: id,
  clockInAt: time,
  clockOutAt: nullable(time),
  breaks: list(object({ startAt: time, endAt: nullable(time) })),
  workedMinutes: int,
  breakMinutes: int,
  wage: int,
});

const payment = object(
  {
    id,
    orderId: id,
    method: paymentMethod,
    provider: nullable(str),
    status: { type: 'string', enum: ['pending', 'succeeded', 'failed', 'cancelled', 'refunded'] },
    amount: int,
    tip: int,
    fee: int,
    createdAt: time,
    settledAt: nullable(time),
  },
  {
    tendered: int,
    change: int,
    reference: str,
    failureReason: str,
    sandbox: bool,
    autoRefunded: bool,
    refunded: int,
    /** The terminal that took it (its cash counts into that terminal's drawer). */
    terminalId: str,
    action: object(
      { type: { type: 'string', enum: ['show_qr', 'confirm_on_phone', 'present_card'] } },
      { url: str, image: str, message: str },
    ),
  },
);

const order = object(
  {
    id,
    orderNumber: nullable(int),
    locationId: id,
    status: { type: 'string', enum: ['open', 'closed', 'cancelled', 'partially_refunded', 'refunded'] },
    kitchenStatus: { type: 'string', enum: ['not_sent', 'sent', 'ready'] },
    type: { type: 'string', enum: ['dine_in', 'takeaway'] },
    table: nullable(str),
    customerName: nullable(str),
    staffId: id,
    terminalId: nullable(str),
    currency: str,
    version: int,
    lines: list(
      object(
        {
          id,
          itemId: id,
          name: str,
          quantity: int,
          unitPrice: int,
          modifiers: list(object({ id, name: str, price: int })),
          note: nullable(str),
          total: int,
        },
        {
          kitchenStatus: { type: 'string', enum: ['not_sent', 'sent', 'ready'] },
          // Absent on orders closed before event pricing.
          priceKind: { type: 'string', enum: ['regular', 'event'] },
        },
      ),
    ),
    discounts: list(
      object({ id, name: str, type: { type: 'string', enum: ['percent', 'amount'] }, value: int, amount: int }),
    ),
    totals: object(
      Object.fromEntries(
        ['subtotal', 'discount', 'serviceCharge', 'tax', 'cardFee', 'tip', 'total', 'paid', 'refunded', 'balance'].map(
          (k) => [k, int],
        ),
      ),
    ),
    payments: list(payment),
    createdAt: time,
    updatedAt: time,
    closedAt: nullable(time),
  },
  {
    tableId: nullable(id),
    customerId: nullable(id),
    receiptNumber: {
      type: 'integer',
      minimum: 1,
      description: 'Set once the closing transaction of a sold order ran: per location, never repeated, never skipped',
    },
  },
);

/** One stored webhook or gateway callback (webhook_receipts). */
const callback = object({
  id: str,
  receivedAt: time,
  source: { type: 'string', enum: ['stripe', 'square', 'qr', 'mpesa', 'airtel'] },
  sourceIp: nullable(str),
  verified: bool,
  bodySha256: str,
  bodyBytes: int,
  eventId: nullable(str),
  reportedStatus: nullable(str),
  paymentStatusBefore: nullable(str),
  effect: {
    type: 'string',
    enum: ['delivered', 'duplicate', 'late', 'ignored', 'rejected', 'malformed', 'unknown_payment', 'error'],
  },
  detail: nullable(str),
  httpStatus: int,
});

const drawerSession = object({
  id,
  drawerId: str,
  terminalId: nullable(str),
  status: { type: 'string', enum: ['open', 'closed'] },
  float: int,
  openedBy: nullable(id),
  openedAt: time,
  expected: int,
  counted: nullable(int),
  overShort: nullable(int),
  closedBy: nullable(id),
  closedAt: nullable(time),
  movements: list(
    object({
      id,
      type: { type: 'string', enum: ['paid_in', 'paid_out', 'cash_payment', 'cash_refund'] },
      amount: int,
      delta: int,
      reason: nullable(str),
      paymentId: nullable(id),
      refundId: nullable(id),
      staffId: nullable(id),
      createdAt: time,
    }),
  ),
});

const menuModifierList = object({
  id,
  name: str,
  minSelections: int,
  maxSelections: int,
  sortOrder: int,
  modifiers: list(object({ id, name: str, price: int, sortOrder: int })),
});

const session = { token: str, expiresAt: time, staff: object({ id, name: str, role, locationId: id }) };

export const componentSchemas = {
  Category: object({
    id,
    name: str,
    sortOrder: int,
    available: bool,
    color: nullable(str),
    createdAt: time,
    updatedAt: time,
  }),
  Item: object({
    id,
    categoryId: nullable(id),
    name: str,
    price: int,
    eventPrice: nullable(int),
    sku: nullable(str),
    barcode: nullable(str),
    cost: nullable(int),
    trackStock: bool,
    stockQuantity: int,
    minStock: int,
    lowStock: bool,
    sortOrder: int,
    available: bool,
    modifierListIds: list(id),
    createdAt: time,
    updatedAt: time,
  }),
  ModifierList: object({
    id,
    name: str,
    minSelections: int,
    maxSelections: int,
    sortOrder: int,
    available: bool,
    modifiers: list(object({ id, name: str, price: int, sortOrder: int, available: bool })),
    createdAt: time,
    updatedAt: time,
  }),
  Menu: object({
    categories: list(
      object({
        id,
        name: str,
        color: nullable(str),
        sortOrder: int,
        items: list(
          object({
            id,
            name: str,
            price: int,
            eventPrice: nullable(int),
            sku: nullable(str),
            barcode: nullable(str),
            trackStock: bool,
            stockQuantity: int,
            lowStock: bool,
            sortOrder: int,
            modifierLists: list(menuModifierList),
          }),
        ),
      }),
    ),
    discountGroups: list(
      object({
        id,
        name: str,
        sortOrder: int,
        discounts: list(
          object({ id, name: str, type: { type: 'string', enum: ['percent', 'amount'] }, value: int, sortOrder: int }),
        ),
      }),
    ),
  }),
  Discount: object({
    id,
    name: str,
    type: { type: 'string', enum: ['percent', 'amount'] },
    value: int,
    groupId: nullable(id),
    available: bool,
    sortOrder: int,
    createdAt: time,
    updatedAt: time,
  }),
  DiscountGroup: object({ id, name: str, available: bool, sortOrder: int, createdAt: time, updatedAt: time }),
  Printer: object({
    id,
    name: str,
    role: { type: 'string', enum: ['receipt', 'kitchen'] },
    address: str,
    enabled: bool,
    categoryIds: nullable(list(id)),
    backupPrinterId: nullable(id),
    createdAt: time,
    updatedAt: time,
  }),
  Staff: object({
    id,
    locationId: id,
    name: str,
    role,
    hourlyRate: int,
    active: bool,
    createdAt: time,
    updatedAt: time,
  }),
  Shifts: object({ shifts: list(shift), totals: object({ workedMinutes: int, breakMinutes: int, wage: int }) }),
  Punch: object({
    staff: object({ id, name: str, role }),
    status: { type: 'string', enum: ['clocked_in', 'on_break', 'clocked_out'] },
    shift,
  }),
  Session: object(session),
  /** A staff login (or refresh): the session plus its next single-use refresh token. */
  LoginSession: object({
    ...session,
    refreshToken: { type: 'string', pattern: '^tfr_[A-Za-z0-9_-]{43}$' },
    refreshExpiresAt: time,
  }),
  Settings: object(
    {
      locationId: id,
      name: str,
      currency: str,
      timezone: str,
      taxRate: int,
      taxInclusive: bool,
      serviceChargeRate: int,
      cardFee: object({ enabled: bool, rate: int, min: int }),
      discountsEnabled: bool,
      autoPrint: object({ receipt: bool, kitchen: bool, orderNumber: bool }),
      loyalty: object({ enabled: bool, pointsPer100: int, pointValue: int }),
      pricing: { type: 'string', enum: ['regular', 'event'] },
      pricingSchedule: list(
        object({
          days: list({ type: 'string', enum: [...WEEKDAYS] }),
          from: str,
          to: str,
          pricing: { type: 'string', enum: ['regular', 'event'] },
        }),
      ),
    },
    { approvalDiscountPercent: nullable(int) },
  ),
  Location: {
    allOf: [{ $ref: '#/components/schemas/Settings' }, object({ organisationId: id, active: bool })],
  },
  Order: order,
  Customer: object({
    id,
    name: str,
    phone: nullable(str),
    email: nullable(str),
    note: nullable(str),
    loyaltyPoints: int,
    createdAt: time,
    updatedAt: time,
  }),
  LoyaltyAccount: object({
    customerId: id,
    balance: int,
    ledger: list(
      object({
        id: str,
        kind: { type: 'string', enum: ['earn', 'redeem', 'refund', 'return', 'adjust'] },
        points: int,
        shortfall: int,
        orderId: nullable(id),
        paymentId: nullable(id),
        refundId: nullable(id),
        staffId: nullable(id),
        reason: nullable(str),
        createdAt: time,
      }),
    ),
  }),
  Table: object({
    id,
    name: str,
    seats: int,
    area: nullable(str),
    sortOrder: int,
    active: bool,
    status: { type: 'string', enum: ['free', 'occupied'] },
    openOrderIds: list(id),
    createdAt: time,
    updatedAt: time,
  }),
  OrderPage: object({ orders: list(order), nextCursor: nullable({ type: 'string' }) }),
  Payment: payment,
  /** A payment as a payment call answers it: the payment with the order snapshot after it. */
  PaymentWithOrder: { allOf: [payment, object({ order: { $ref: '#/components/schemas/Order' } })] },
  DailyReport: object(
    { date: { type: 'string', format: 'date' }, currency: str, ...reportTotals },
    {
      drawers: list(object({ drawerId: str, sessionId: id, float: int, expected: int, counted: int, overShort: int })),
      drawerOverShort: int,
    },
  ),
  OrganisationReport: object({
    date: { type: 'string', format: 'date' },
    locations: list(
      object({ locationId: id, name: str, active: bool, report: { $ref: '#/components/schemas/DailyReport' } }),
    ),
    totals: list(object({ currency: str, ...reportTotals })),
  }),
  RangeReport: object({
    start: { type: 'string', format: 'date' },
    end: { type: 'string', format: 'date' },
    currency: str,
    days: list({ $ref: '#/components/schemas/DailyReport' }),
    total: object(reportTotals),
  }),
  ItemReport: object({
    start: { type: 'string', format: 'date' },
    end: { type: 'string', format: 'date' },
    currency: str,
    items: list(
      object({ itemId: nullable(str), name: str, quantity: int, net: int, cost: nullable(int), margin: nullable(int) }),
    ),
    total: object({ quantity: int, net: int, cost: int, margin: int }),
  }),
  StaffReport: object({
    start: { type: 'string', format: 'date' },
    end: { type: 'string', format: 'date' },
    currency: str,
    staff: list(object(staffReportRow)),
    total: object(staffReportRow),
  }),
  Discovery: object({
    printers: list(object({ name: str, host: str, port: int, address: str })),
    kitchenScreens: list(object({ name: str, host: str, port: int })),
    alreadyConfigured: list(id),
  }),
  Health: object(
    {
      status: { type: 'string', enum: ['healthy', 'unhealthy'] },
      timestamp: time,
      version: str,
      uptime: int,
      checks: object({ database: str, temporal: str }),
    },
    {
      payments: { type: 'object', additionalProperties: { type: 'string', enum: ['live', 'sandbox', 'off'] } },
      sandbox: bool,
    },
  ),
  WebhookAck: object({ received: { type: 'boolean', const: true } }, { ignored: bool }),
  Refund: object(
    {
      id,
      orderId: id,
      paymentId: id,
      method: paymentMethod,
      provider: nullable(str),
      amount: int,
      status: { type: 'string', enum: ['pending', 'succeeded', 'failed'] },
      reason: str,
      lines: list(object({ lineId: id, quantity: int })),
      restock: bool,
      staffId: nullable(id),
      createdAt: time,
      settledAt: nullable(time),
    },
    { failureReason: str, reference: str },
  ),
  Display: object(display, { createdBy: nullable(id) }),
  /** Answered once, at creation: the device token is never shown again. */
  DisplayIssued: object({ ...display, token: str }),
  DisplayList: object({ displays: list({ $ref: '#/components/schemas/Display' }) }),
  KitchenScreen: object(kitchenScreen),
  /** Answered once, at creation: the device token is never shown again. */
  KitchenScreenIssued: object({ ...kitchenScreen, token: str }),
  Inventory: object({
    items: list(
      object({
        itemId: id,
        name: str,
        sku: nullable(str),
        quantity: int,
        minStock: int,
        lowStock: bool,
        cost: nullable(int),
        value: int,
      }),
    ),
    totalValue: int,
  }),
  Movement: object({
    id,
    itemId: id,
    delta: int,
    quantityAfter: nullable(int),
    reason: { type: 'string', enum: ['sale', 'refund', 'adjustment', 'count', 'receive'] },
    reference: nullable(str),
    staffId: nullable(id),
    note: nullable(str),
    createdAt: time,
  }),
  MovementPage: object({ movements: list({ $ref: '#/components/schemas/Movement' }), nextCursor: nullable(str) }),
  Alert: object(
    {
      id,
      itemId: id,
      status: { type: 'string', enum: ['active', 'resolved'] },
      quantity: int,
      minStock: int,
      createdAt: time,
      resolvedAt: nullable(time),
      resolvedBy: nullable(id),
      resolution: nullable(str),
    },
    { name: str },
  ),
  AlertList: object({ alerts: list({ $ref: '#/components/schemas/Alert' }) }),
  StockCountLine: object(
    {
      itemId: id,
      expected: int,
      counted: nullable(int),
      movedDuringCount: nullable(int),
      variance: nullable(int),
      varianceValue: nullable(int),
    },
    { name: str },
  ),
  StockCount: object(
    {
      id,
      status: str,
      categoryId: nullable(id),
      lines: list({ $ref: '#/components/schemas/StockCountLine' }),
      startedAt: nullable(time),
      completedAt: nullable(time),
      cancelledAt: nullable(time),
    },
    { totals: object({ items: int, counted: int, variance: int, varianceValue: int }), staffId: nullable(id) },
  ),
  StockCountList: object({ stockCounts: list(object({ id, status: str })) }),
  StuckOrders: object({
    stuckOrders: list(
      object({
        orderId: nullable(id),
        orderNumber: nullable(int),
        workflowId: str,
        runId: nullable(str),
        reason: str,
        since: nullable(time),
        currentDetails: nullable(str),
        temporalUiUrl: nullable(str),
      }),
    ),
  }),
  AuditPage: object({
    auditLog: list(
      object({
        id: { type: ['integer', 'string'] },
        action: str,
        subject: nullable(str),
        locationId: id,
        staff: nullable(object({ id, name: nullable(str) })),
        data: {},
        createdAt: time,
      }),
    ),
    nextCursor: nullable(str),
  }),
  PaymentPage: object({ payments: list(payment), nextCursor: nullable(str) }),
  Live: object({ status: { type: 'string', const: 'live' }, timestamp: time }),
  Ready: object({
    status: { type: 'string', const: 'ready' },
    timestamp: time,
    checks: object({ database: str, temporal: str }),
  }),
  PaymentCallbacks: object({ paymentId: id, callbacks: list(callback) }),
  RefundCallbacks: object({ refundId: id, callbacks: list(callback) }),
  DrawerSession: drawerSession,
  DrawerSessionList: object({ sessions: list(drawerSession) }),
} satisfies Record<string, JsonSchema>;
