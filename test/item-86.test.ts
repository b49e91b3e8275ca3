/** "86" (sold out): every terminal hears it on `orders:<locationId>` and new lines are refused (409). */
import { startHarness, Harness } from './support/harness';
import { connectSocket, TestSocket } from './support/ws-client';
import { newItem } from './support/inventory';
import { postPayment } from './support/payments';

let h: Harness;
let cashier: string;
let manager: string;
let pos: TestSocket;

beforeAll(async () => {
  h = await startHarness({ printingWorker: false });
  [cashier, manager] = await Promise.all([h.login('3456'), h.login('2345')]);
  pos = await connectSocket(h.baseUrl, cashier);
  pos.send({ type: 'subscribe', topics: [`orders:${h.shop.locationId}`] });
  await pos.waitFor((m) => m.type === 'subscribed');
});
afterAll(async () => {
  await pos?.close();
  await h?.close();
});

const soldOutEvent = (itemId: string, soldOut: boolean) => (m: any) =>
  m.event === 'item.updated' && m.data.itemId === itemId && m.data.soldOut === soldOut;
const line = (itemId: string) => ({ itemId, quantity: 1, modifierIds: [] });

async function openOrder(): Promise<string> {
  const res = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [line(h.shop.items['Sparkling water'])] },
  });
  expect(res.status).toBe(201);
  return res.body.id;
}

it('pushes an item switched off to every terminal and refuses new lines of it with 409', async () => {
  const orderId = await openOrder();
  const itemId = await newItem(h, manager, { stockQuantity: 10 });
  expect(
    (await h.api('PATCH', `/api/v1/catalog/items/${itemId}`, { token: manager, body: { available: false } })).status,
  ).toBe(200);

  const event = await pos.waitFor(soldOutEvent(itemId, true));
  expect(event).toMatchObject({
    topic: `orders:${h.shop.locationId}`,
    data: { itemId, available: false, soldOut: true },
  });
  const added = await h.api('POST', `/api/v1/orders/${orderId}/lines`, { token: cashier, body: line(itemId) });
  expect(added.status).toBe(409);
  expect(added.body.code).toBe('CONFLICT');
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [line(itemId)] },
  });
  expect(created.status).toBe(409);
});

it('86es a tracked item when a sale takes its stock to 0, and brings it back on restock', async () => {
  const itemId = await newItem(h, manager, { stockQuantity: 1 });
  const sale = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [line(itemId)] },
  });
  expect(sale.status).toBe(201);
  const total = sale.body.totals.total;
  expect(
    (await postPayment(h, cashier, sale.body.id, { method: 'cash', amount: total, tendered: total })).body.order.status,
  ).toBe('closed');

  const event = await pos.waitFor(soldOutEvent(itemId, true));
  expect(event.data).toMatchObject({ available: true, trackStock: true, stockQuantity: 0 });
  const orderId = await openOrder();
  expect((await h.api('POST', `/api/v1/orders/${orderId}/lines`, { token: cashier, body: line(itemId) })).status).toBe(
    409,
  );

  const restock = await h.api('POST', '/api/v1/inventory/adjustments', {
    token: manager,
    body: { itemId, delta: 5, reason: 'receive' },
    headers: { 'idempotency-key': `restock-${itemId}` },
  });
  expect(restock.status).toBe(201);
  await pos.waitFor(soldOutEvent(itemId, false));
  expect((await h.api('POST', `/api/v1/orders/${orderId}/lines`, { token: cashier, body: line(itemId) })).status).toBe(
    200,
  );
});
