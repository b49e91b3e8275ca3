import { startHarness, Harness } from './support/harness';
import { connectSocket, TestSocket } from './support/ws-client';
import { startFakePrinter } from './support/fake-printer';
import { startApiServer, ApiServer } from '../api/server';
import { postPayment } from './support/payments';

let h: Harness;
let secondReplica: ApiServer;
let printer: Awaited<ReturnType<typeof startFakePrinter>>;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  h = await startHarness();
  printer = await startFakePrinter();
  await h.deps
    .knex('printers')
    .insert({ location_id: h.shop.locationId, name: 'Kitchen', role: 'kitchen', address: printer.address });
  // A second API replica on the same database: subscribers on either see every event.
  secondReplica = await startApiServer(h.deps, { databaseUrl: h.databaseUrl, port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await secondReplica?.close();
  await printer?.close();
  await h?.close();
});

async function socket(token: string, baseUrl = h.baseUrl) {
  const s = await connectSocket(baseUrl, token);
  sockets.push(s);
  await s.waitFor((m) => m.type === 'welcome');
  return s;
}

it('streams a full checkout to the POS, customer display and kitchen, in version order, across API replicas', async () => {
  const cashier = await h.login('3456');
  const kitchenToken = await h.login('4567');
  const loc = h.shop.locationId;
  const terminalId = 'till-1';

  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'dine_in', table: '7', terminalId },
  });
  expect(created.status).toBe(201);
  const id = created.body.id;

  const pos = await socket(cashier);
  pos.send({ type: 'subscribe', topics: [`order:${id}`, `orders:${loc}`] });
  await pos.waitFor((m) => m.type === 'subscribed');
  const initial = await pos.waitFor((m) => m.type === 'snapshot');
  expect(initial.data.id).toBe(id);

  // The customer display is a device with its own token, issued by a manager.
  const issued = await h.api('POST', '/api/v1/displays', {
    token: await h.login('2345'),
    body: { name: 'Till 1 display', terminalId },
  });
  const display = await socket(issued.body.token, secondReplica.url); // served by the other replica
  display.send({ type: 'subscribe', topics: [`display:${terminalId}`] });
  await display.waitFor((m) => m.type === 'subscribed');

  const kitchen = await socket(kitchenToken);
  kitchen.send({ type: 'subscribe', topics: [`kitchen:${loc}`, `orders:${loc}`] });
  const kitchenAck = await kitchen.waitFor((m) => m.type === 'subscribed');
  expect(kitchenAck.topics).toEqual([`kitchen:${loc}`]);
  const refused = await kitchen.waitFor((m) => m.type === 'error');
  expect(refused).toMatchObject({ code: 'FORBIDDEN', topics: [`orders:${loc}`] });

  const { items, modifiers, discounts } = h.shop;
  await h.api('POST', `/api/v1/orders/${id}/lines`, {
    token: cashier,
    body: {
      itemId: items['Latte'],
      quantity: 1,
      modifierIds: [modifiers['Large'], modifiers['Oat milk']],
      note: 'extra hot',
    },
  });
  await h.api('POST', `/api/v1/orders/${id}/lines`, {
    token: cashier,
    body: { itemId: items['Croissant'], quantity: 2 },
  });
  await h.api('POST', `/api/v1/orders/${id}/discounts`, { token: cashier, body: { discountId: discounts['$2 off'] } });
  const submitted = await h.api('POST', `/api/v1/orders/${id}/submit`, { token: cashier });
  expect(submitted.body.kitchenStatus).toBe('sent');

  const ticket = await kitchen.waitFor((m) => m.event === 'kitchen.ticket');
  expect(ticket.data.lines).toEqual([
    { name: 'Latte', quantity: 1, modifiers: ['Large', 'Oat milk'], note: 'extra hot' },
    { name: 'Croissant', quantity: 2, modifiers: [], note: null },
  ]);
  await printer.waitForJobs(1);
  expect(printer.text(0)).toContain('Latte');
  expect(printer.text(0)).toContain('extra hot');

  const bumped = await h.api('POST', `/api/v1/orders/${id}/ready`, { token: kitchenToken });
  expect(bumped.body.kitchenStatus).toBe('ready');
  await kitchen.waitFor((m) => m.event === 'order.ready' && m.data.orderNumber === created.body.orderNumber);

  // The kitchen's bump answers with the kitchen view (no money): the cashier reads the total.
  const total = (await h.api('GET', `/api/v1/orders/${id}`, { token: cashier })).body.totals.total;
  const half = Math.floor(total / 2);
  const p1 = await postPayment(h, cashier, id, { method: 'cash', amount: half, tendered: half });
  expect(p1.status).toBe(201);
  const p2 = await postPayment(h, cashier, id, { method: 'cash', amount: total - half, tendered: 5000 });
  expect(p2.body.change).toBe(5000 - (total - half));
  expect(p2.body.order.status).toBe('closed');
  const finalVersion = p2.body.order.version;

  await pos.waitFor((m) => m.event === 'order.updated' && m.topic === `order:${id}` && m.version === finalVersion);
  await display.waitFor((m) => m.event === 'cart_updated' && m.version === finalVersion);

  const posVersions = pos.events((m) => m.event === 'order.updated' && m.topic === `order:${id}`).map((m) => m.version);
  expect(posVersions).toEqual([...posVersions].sort((a, b) => a - b));
  expect(posVersions).toEqual(expect.arrayContaining([2, 3, 4, 5, 6, finalVersion]));
  expect(pos.events((m) => m.event === 'payment.updated' && m.topic === `order:${id}`)).toHaveLength(2);
  expect(pos.events((m) => m.event === 'payment.updated' && m.topic === `orders:${loc}`)).toHaveLength(2);

  const cart = display.events((m) => m.event === 'cart_updated');
  expect(cart.map((m) => m.version)).toEqual([...cart.map((m) => m.version)].sort((a, b) => a - b));
  expect(cart[cart.length - 1].data).toMatchObject({ order_id: id, total, status: 'closed' });
  expect(cart.find((m) => m.data.items.length === 2)?.data.items[0]).toMatchObject({ name: 'Latte', quantity: 1 });
  // Kitchen staff never see prices or other topics.
  expect(kitchen.events().every((m) => m.topic === `kitchen:${loc}`)).toBe(true);

  // Closing deducted stock once and persisted the order.
  const deadline = Date.now() + 10_000;
  while (!(await h.deps.knex('orders').where({ id }).first())?.persisted_at && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  const croissant = await h.deps.knex('items').where({ id: items['Croissant'] }).first();
  expect(croissant.stock_quantity).toBe(22);
  expect(await h.deps.knex('inventory_movements').where({ order_id: id })).toEqual([
    expect.objectContaining({ delta: -2, reason: 'sale' }),
  ]);

  // The manager's daily report shows the sale.
  const manager = await h.login('2345');
  const report = await h.api('GET', '/api/v1/reports/daily', { token: manager });
  expect(report.status).toBe(200);
  const final = p2.body.order;
  expect(report.body).toMatchObject({
    orders: 1,
    gross: final.totals.subtotal,
    discounts: final.totals.discount,
    tax: final.totals.tax,
  });
  expect(report.body.byMethod.cash).toBe(total);
  expect(report.body.byStaff).toEqual([expect.objectContaining({ name: 'Cashier', orders: 1 })]);
});

it('raises a low-stock alert on the location topic when a sale takes an item to its minimum', async () => {
  const cashier = await h.login('3456');
  const s = await socket(cashier);
  s.send({ type: 'subscribe', topics: [`orders:${h.shop.locationId}`] });
  await s.waitFor((m) => m.type === 'subscribed');
  const water = h.shop.items['Sparkling water']; // 48 in stock, minimum 12
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: water, quantity: 40 }] },
  });
  const total = created.body.totals.total;
  await postPayment(h, cashier, created.body.id, { method: 'cash', amount: total, tendered: total });
  const alert = await s.waitFor((m) => m.event === 'stock.low');
  expect(alert.data).toEqual({
    itemId: water,
    name: 'Sparkling water',
    stockQuantity: 8,
    minStock: 12,
    alert: expect.objectContaining({
      id: expect.any(String),
      itemId: water,
      status: 'active',
      quantity: 8,
      minStock: 12,
    }),
  });
});

it('drops a socket that stops answering pings', async () => {
  const cashier = await h.login('3456');
  const WebSocket = (await import('ws')).default;
  const silent = new WebSocket(`${h.baseUrl.replace(/^http/, 'ws')}/ws?token=${cashier}`, { autoPong: false });
  const closed = new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)));
  const started = Date.now();
  const code = await closed; // the harness pings every second
  expect(code).toBe(1006); // terminated by the server, no close handshake
  expect(Date.now() - started).toBeLessThan(10_000);
});

it('refuses a socket without a valid token and topics of another location', async () => {
  const bad = await connectSocket(h.baseUrl, 'nope');
  sockets.push(bad);
  const err = await bad.waitFor((m) => m.type === 'error');
  expect(err.code).toBe('UNAUTHENTICATED');

  const cashier = await h.login('3456');
  const s = await socket(cashier);
  s.send({
    type: 'subscribe',
    topics: ['orders:00000000-0000-4000-8000-000000000000', 'order:00000000-0000-4000-8000-000000000000', 'bogus'],
  });
  const ack = await s.waitFor((m) => m.type === 'subscribed');
  expect(ack.topics).toEqual([]);
  s.send({ type: 'ping' });
  await s.waitFor((m) => m.type === 'pong');
  s.raw.send('not json');
  await s.waitFor((m) => m.type === 'error' && m.code === 'BAD_REQUEST');
});
