import { postPayment } from './support/payments';
import { startHarness, Harness } from './support/harness';
import { connectSocket, TestSocket } from './support/ws-client';

// The contract limits `kitchen` to kitchen feeds and bumps: what it reads over REST and on its
// kitchen topic is the kitchen view (what to cook), never payments, totals, staff or customers.
let h: Harness;
let cashier: string;
let kitchen: string;
let orderId: string;
const sockets: TestSocket[] = [];

const ORDER_KEYS = [
  'createdAt',
  'id',
  'kitchenStatus',
  'lines',
  'locationId',
  'orderNumber',
  'status',
  'table',
  'type',
  'updatedAt',
  'version',
];
// A line's own kitchenStatus is the kitchen's business (stations bump their lines).
const LINE_KEYS = ['id', 'itemId', 'kitchenStatus', 'modifiers', 'name', 'note', 'quantity'];
const FORBIDDEN =
  /^(payments|totals|staffId|customerName|unitPrice|price|total|amount|tendered|discounts|terminalId|currency|cancelReason)$/;

/** Every key anywhere in the value, so a nested leak is found too. */
function keysDeep(v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(keysDeep);
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [k, ...keysDeep(x)]);
  return [];
}

beforeAll(async () => {
  h = await startHarness();
  cashier = await h.login('3456');
  kitchen = await h.login('4567');
  const { items, modifiers } = h.shop;
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: {
      type: 'takeaway',
      table: '4',
      customerName: 'Alice Example',
      lines: [{ itemId: items['Latte'], quantity: 2, modifierIds: [modifiers['Large']], note: 'extra hot' }],
    },
  });
  orderId = created.body.id;
  await postPayment(h, cashier, orderId, { method: 'cash', amount: 100, tendered: 100 });
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await h?.close();
});

it('answers GET /orders/:id for kitchen with the kitchen view only', async () => {
  const res = await h.api('GET', `/api/v1/orders/${orderId}`, { token: kitchen });
  expect(res.status).toBe(200);
  expect(Object.keys(res.body).sort()).toEqual(ORDER_KEYS);
  expect(Object.keys(res.body.lines[0]).sort()).toEqual(LINE_KEYS);
  expect(res.body.lines[0]).toMatchObject({
    name: 'Latte',
    quantity: 2,
    note: 'extra hot',
    modifiers: [{ name: 'Large' }],
  });
  expect(keysDeep(res.body).filter((k) => FORBIDDEN.test(k))).toEqual([]);
});

it('answers GET /orders for kitchen with kitchen views only', async () => {
  const res = await h.api('GET', '/api/v1/orders', { token: kitchen });
  expect(res.status).toBe(200);
  const mine = res.body.orders.find((o: any) => o.id === orderId);
  expect(Object.keys(mine).sort()).toEqual(ORDER_KEYS);
  expect(keysDeep(res.body.orders).filter((k) => FORBIDDEN.test(k))).toEqual([]);
});

it('still answers a cashier with the full snapshot', async () => {
  const res = await h.api('GET', `/api/v1/orders/${orderId}`, { token: cashier });
  expect(res.body).toMatchObject({
    customerName: 'Alice Example',
    payments: [expect.objectContaining({ method: 'cash', amount: 100 })],
  });
});

it('sends kitchen topic events without customer, staff or money', async () => {
  const s = await connectSocket(h.baseUrl, kitchen);
  sockets.push(s);
  s.send({ type: 'subscribe', topics: [`kitchen:${h.shop.locationId}`] });
  await s.waitFor((m) => m.type === 'subscribed');
  await h.api('POST', `/api/v1/orders/${orderId}/submit`, { token: cashier });
  const ticket = await s.waitFor((m) => m.event === 'kitchen.ticket');
  expect(ticket.data).toMatchObject({
    orderId,
    type: 'takeaway',
    table: '4',
    lines: [{ name: 'Latte', quantity: 2, modifiers: ['Large'], note: 'extra hot' }],
  });
  await h.api('POST', `/api/v1/orders/${orderId}/ready`, { token: kitchen });
  const ready = await s.waitFor((m) => m.event === 'order.ready');
  expect(ready.data).toMatchObject({ orderId });
  expect(keysDeep([ticket, ready]).filter((k) => FORBIDDEN.test(k))).toEqual([]);
});

it('answers the kitchen bump with the kitchen view', async () => {
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'dine_in', customerName: 'Bob', lines: [{ itemId: h.shop.items['Croissant'], quantity: 1 }] },
  });
  await h.api('POST', `/api/v1/orders/${created.body.id}/submit`, { token: cashier });
  const res = await h.api('POST', `/api/v1/orders/${created.body.id}/ready`, { token: kitchen });
  expect(res.status).toBe(200);
  expect(res.body.kitchenStatus).toBe('ready');
  expect(Object.keys(res.body).sort()).toEqual(ORDER_KEYS);
});
