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
  lines: { id: string; itemId: string; name: string; quantity: number; modifiers: { id: string; name: string }[]; note: string | null }[];
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
    lines: s.lines.map((l) => ({ id: l.id, itemId: l.itemId, name: l.name, quantity: l.quantity, modifiers: l.modifiers.map((m) => ({ id: m.id, name: m.name })), note: l.note })),
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
    const lines = Array.isArray(d.lines) ? (d.lines as Data[]).map((l) => pick(l, ['name', 'quantity', 'modifiers', 'note'])) : [];
    return { ...pick(d, ['orderId', 'orderNumber', 'type', 'table', 'createdAt']), lines };
  }
  if (event === 'order.ready') return pick(d, ['orderId', 'orderNumber', 'type', 'table']);
  return undefined;
}

/** The data a subscriber of `topic` receives for an event, or undefined when it gets none of it. */
export function eventDataForTopic(topic: string, event: string, data: unknown): unknown {
  if (topic.startsWith('kitchen:')) return kitchenEventData(event, data);
  return data;
}
