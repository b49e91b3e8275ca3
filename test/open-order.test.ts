import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { connectSocket } from './support/ws-client';
import { until } from './support/payments';
import { seedDemoShop } from '../db/seed';
import { startApiServer } from '../api/server';

/**
 * An order opens with a plain workflow start (issue 10): the API applies and publishes the
 * opening version itself, and the workflow starts from it. Terminals do not wait for the
 * workflow's first task, so their next change can reach the workflow with its start.
 */
let h: Harness;
let cashier: string;

beforeAll(async () => {
  h = await startHarness();
  cashier = await h.login('3456');
});
afterAll(async () => h?.close());

const espresso = () => ({ itemId: h.shop.items['Espresso'], quantity: 1, modifierIds: [h.shop.modifiers['Regular']] });

it('numbers a line added the moment its order opens after the opening version, for every subscriber', async () => {
  const pos = await connectSocket(h.baseUrl, cashier);
  pos.send({ type: 'subscribe', topics: [`orders:${h.shop.locationId}`] });
  await pos.waitFor((m) => m.type === 'subscribed');
  const opened = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } });
  expect(opened.status).toBe(201);
  expect(opened.body.version).toBe(1);
  const id = opened.body.id;
  const added = await h.api('POST', `/api/v1/orders/${id}/lines`, { token: cashier, body: espresso() });
  expect(added.status).toBe(200);
  expect(added.body.version).toBe(2);
  await pos.waitFor((m) => m.event === 'order.updated' && m.data.id === id && m.version === 2);
  const versions = pos.events((m) => m.event === 'order.updated' && m.data.id === id).map((m) => m.version);
  expect(versions).toEqual([1, 2]);
  const opening = pos.events((m) => m.data.id === id && m.version === 1)[0];
  expect(opening.data.orderNumber).toBe(opened.body.orderNumber);
  expect(opening.data.lines).toEqual([]);
  await pos.close();
});

it('keeps the opening version until it is durable: a lost API write is made good by the close', async () => {
  const opened = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [espresso()] },
  });
  const id = opened.body.id;
  // The API's own write landed; drop it, as if that API replica had died before writing it. The
  // terminal's payment then reaches another replica, which wrote nothing of the order.
  await until(
    () => h.deps.knex('order_events').where({ order_id: id, version: 1 }).first(),
    (row) => row !== undefined,
  );
  await h.deps.knex('order_events').where({ order_id: id, version: 1 }).delete();
  const other = await startApiServer(h.deps, { databaseUrl: h.databaseUrl, port: 0, host: '127.0.0.1' });
  const res = await fetch(`${other.url}/api/v1/orders/${id}/payments`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${cashier}`,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
    },
    body: JSON.stringify({ method: 'cash', amount: opened.body.totals.total, tendered: opened.body.totals.total }),
  });
  await other.close();
  const paid = { status: res.status, body: (await res.json()) as any };
  expect(paid.status).toBe(201);
  expect(paid.body.order.status).toBe('closed');
  const events = await h.deps.knex('order_events').where({ order_id: id, event: 'order.updated' }).orderBy('version');
  expect(events.map((e) => e.version)).toEqual([1, paid.body.order.version]);
});

it('answers a paying cashier once the sale is written', async () => {
  const opened = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [espresso()] },
  });
  const id = opened.body.id;
  const paid = await h.api('POST', `/api/v1/orders/${id}/payments`, {
    token: cashier,
    body: { method: 'cash', amount: opened.body.totals.total, tendered: opened.body.totals.total },
    headers: { 'idempotency-key': randomUUID() },
  });
  expect(paid.status).toBe(201);
  const row = await h.deps.knex('orders').where({ id }).first('status', 'version');
  expect(row).toEqual({ status: 'closed', version: paid.body.order.version });
});

it('lets support find an order by its number from its start, before its first task', async () => {
  const opened = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } });
  const handle = h.deps.temporal.workflow.getHandle(`order-${opened.body.id}`);
  const { searchAttributes } = await handle.describe();
  expect(searchAttributes).toMatchObject({
    OrderNumber: [opened.body.orderNumber],
    OrderStatus: ['open'],
    KitchenStatus: ['not_sent'],
    OrderTotal: [0],
  });
});

it('answers a repeated create with the order as it is now', async () => {
  const id = randomUUID();
  const first = await h.api('POST', '/api/v1/orders', { token: cashier, body: { id, type: 'takeaway' } });
  await h.api('POST', `/api/v1/orders/${id}/lines`, { token: cashier, body: espresso() });
  const again = await h.api('POST', '/api/v1/orders', { token: cashier, body: { id, type: 'takeaway' } });
  expect(again.status).toBe(200);
  expect(again.body.orderNumber).toBe(first.body.orderNumber);
  expect(again.body.lines).toHaveLength(1);
});

it("answers 404 to a create that reuses another location's running order id", async () => {
  const b = (await seedDemoShop(h.deps.knex, h.deps.config.tokenSecret, { force: true, name: 'Open B' }))!;
  const login = await h.api('POST', '/api/v1/auth/login', { body: { pin: '3456', locationId: b.locationId } });
  expect(login.status).toBe(200);
  const id = randomUUID();
  expect((await h.api('POST', '/api/v1/orders', { token: cashier, body: { id, type: 'takeaway' } })).status).toBe(201);
  const reused = await h.api('POST', '/api/v1/orders', { token: login.body.token, body: { id, type: 'takeaway' } });
  expect(reused.status).toBe(404);
  expect(reused.body.code).toBe('NOT_FOUND');
});
