/**
 * What each audience may see of an order (pure; shared by the REST routes and the WebSocket).
 * Views are built by picking fields, never by deleting them, so a field added to the snapshot
 * later stays out until someone decides it belongs here.
 */
import type { OrderSnapshot } from './order';

/** What the kitchen cooks from: no payments, totals, prices, staff or customer. */
export interface KitchenOrderView {
  id: string;
  orderNumber: number | null;
  locationId: string;
  status: OrderSnapshot['status'];
  kitchenStatus: OrderSnapshot['kitchenStatus'];
  type: OrderSnapshot['type'];
  table: string | null;
  version: number;
  lines: {
    id: string;
    itemId: string;
    name: string;
    quantity: number;
    modifiers: { id: string; name: string }[];
    note: string | null;
    kitchenStatus: OrderSnapshot['kitchenStatus'];
  }[];
  createdAt: string;
  updatedAt: string;
}

export function kitchenView(s: OrderSnapshot): KitchenOrderView {
  return {
    id: s.id,
    orderNumber: s.orderNumber,
    locationId: s.locationId,
    status: s.status,
    kitchenStatus: s.kitchenStatus,
    type: s.type,
    table: s.table,
    version: s.version,
    lines: s.lines.map((l) => ({
      id: l.id,
      itemId: l.itemId,
      name: l.name,
      quantity: l.quantity,
      modifiers: l.modifiers.map((m) => ({ id: m.id, name: m.name })),
      note: l.note,
      kitchenStatus: l.kitchenStatus,
    })),
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

type Data = Record<string, unknown>;
const pick = (d: Data, keys: string[]): Data => Object.fromEntries(keys.filter((k) => k in d).map((k) => [k, d[k]]));

/** Kitchen topics carry tickets and ready announcements, shaped for the kitchen; nothing else. */
export function kitchenEventData(event: string, data: unknown): unknown {
  const d = (data ?? {}) as Data;
  if (event === 'kitchen.ticket') {
    const lines = Array.isArray(d.lines)
      ? (d.lines as Data[]).map((l) => pick(l, ['name', 'quantity', 'modifiers', 'note', 'change', 'previousQuantity']))
      : [];
    return { ...pick(d, ['orderId', 'orderNumber', 'type', 'table', 'createdAt', 'amendment']), lines };
  }
  if (event === 'order.ready') return pick(d, ['orderId', 'orderNumber', 'type', 'table']);
  return undefined;
}

const LINE_FIELDS = ['name', 'quantity', 'unitPrice', 'total'];

/** The cart as the customer sees it: lines with prices, discounts, totals, and whether it is paid. */
function displayCart(d: Data): Data {
  const lines = Array.isArray(d.lines)
    ? (d.lines as Data[]).map((l) => ({
        ...pick(l, LINE_FIELDS),
        modifiers: Array.isArray(l.modifiers) ? (l.modifiers as Data[]).map((m) => pick(m, ['name', 'price'])) : [],
      }))
    : [];
  const items = Array.isArray(d.items)
    ? (d.items as Data[]).map((i) => pick(i, ['name', 'quantity', 'total', 'modifiers']))
    : [];
  const discounts = Array.isArray(d.discounts) ? (d.discounts as Data[]).map((x) => pick(x, ['name', 'amount'])) : [];
  return {
    ...pick(d, [
      'order_id',
      'total',
      'id',
      'orderNumber',
      'status',
      'currency',
      'version',
      'totals',
      'updatedAt',
      'closedAt',
    ]),
    items,
    lines,
    discounts,
  };
}

/** A payment as the customer sees it: what is being paid, how, and the QR to scan while pending. */
function displayPayment(d: Data): Data {
  const action = d.action as Data | undefined;
  const qr =
    d.status === 'pending' && action?.type === 'show_qr' ? { action: pick(action, ['type', 'url', 'image']) } : {};
  return { ...pick(d, ['id', 'orderId', 'method', 'status', 'amount', 'tip', 'fee']), ...qr };
}

/** Customer display topics: the cart, payments and the ready call, shaped for the customer. */
export function displayEventData(event: string, data: unknown): unknown {
  const d = (data ?? {}) as Data;
  if (event === 'cart_updated') return displayCart(d);
  if (event === 'payment.updated') return displayPayment(d);
  if (event === 'order.ready') return pick(d, ['orderId', 'orderNumber']);
  return undefined;
}

/** The data a subscriber of `topic` receives for an event, or undefined when it gets none of it. */
export function eventDataForTopic(topic: string, event: string, data: unknown): unknown {
  if (topic.startsWith('kitchen:')) return kitchenEventData(event, data);
  if (topic.startsWith('display:')) return displayEventData(event, data);
  return data;
}
