/**
 * Kitchen screens as devices, end to end: a manager registers screens (each with its own device
 * token, shown once), a screen watches its own topic over a real WebSocket and sees only its
 * categories' lines, and each screen's bump readies its lines until the whole order is ready.
 */
import { createHash } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { connectSocket, TestSocket } from './support/ws-client';
import { submitDineIn } from './support/kitchen';

let h: Harness;
let cashier: string;
let manager: string;
let kitchen: string;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  h = await startHarness();
  [cashier, manager, kitchen] = await Promise.all([h.login('3456'), h.login('2345'), h.login('4567')]);
}, 120_000);
beforeEach(async () => {
  await h.deps.knex('devices').where({ location_id: h.shop.locationId, kind: 'kitchen_screen' }).delete();
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.close()));
});
afterAll(async () => h?.close());

interface Screen {
  id: string;
  token: string;
  topic: string;
}

async function addScreen(name: string, categories: string[] = []): Promise<Screen> {
  const categoryIds = categories.length ? categories.map((c) => h.shop.categories[c]) : undefined;
  const res = await h.api('POST', '/api/v1/kitchen-screens', { token: manager, body: { name, categoryIds } });
  expect(res.status).toBe(201);
  return res.body;
}

async function watch(token: string, topics: string[]): Promise<TestSocket> {
  const s = await connectSocket(h.baseUrl, token);
  sockets.push(s);
  s.send({ type: 'subscribe', topics });
  await s.waitFor((m) => m.type === 'subscribed');
  return s;
}

/** An order with one of each of these items, sent to the kitchen. */
const submitted = (items: string[]) => submitDineIn(h, cashier, items);

const bump = (orderId: string, token: string, body?: unknown) =>
  h.api('POST', `/api/v1/orders/${orderId}/ready`, { token, body: body ?? {} });

const lineStatus = (order: { lines: { itemId: string; kitchenStatus: string }[] }, item: string) =>
  order.lines.find((l) => l.itemId === h.shop.items[item])!.kitchenStatus;

describe('registering screens', () => {
  it('issues a screen its device token once, stored only as a hash', async () => {
    const screen = await addScreen('Bar screen', ['Drinks']);
    expect(screen.token).toMatch(/^tfd_/);
    expect(screen.topic).toBe(`kitchen:${h.shop.locationId}:${screen.id}`);
    const list = await h.api('GET', '/api/v1/kitchen-screens', { token: manager });
    expect(list.status).toBe(200);
    expect(list.body.find((s: any) => s.id === screen.id)).toMatchObject({
      name: 'Bar screen',
      categoryIds: [h.shop.categories['Drinks']],
    });
    expect(JSON.stringify(list.body)).not.toContain(screen.token);
    const row = await h.deps.knex('devices').where({ id: screen.id }).first();
    expect(JSON.stringify(row)).not.toContain(screen.token);
    expect(row.token_hash).toBe(createHash('sha256').update(screen.token).digest('hex'));
  });

  it('refuses to register screens for a cashier', async () => {
    const res = await h.api('POST', '/api/v1/kitchen-screens', { token: cashier, body: { name: 'Sneaky' } });
    expect(res.status).toBe(403);
  });

  it('refuses a category of no such category with 422', async () => {
    const res = await h.api('POST', '/api/v1/kitchen-screens', {
      token: manager,
      body: { name: 'Bar', categoryIds: ['00000000-0000-4000-8000-000000000000'] },
    });
    expect(res.status).toBe(422);
    expect(res.body.errors[0].path).toBe('categoryIds[0]');
  });

  it('changes a screen’s categories, audited', async () => {
    const screen = await addScreen('Pass');
    const res = await h.api('PATCH', `/api/v1/kitchen-screens/${screen.id}`, {
      token: manager,
      body: { categoryIds: [h.shop.categories['Food']] },
    });
    expect(res.status).toBe(200);
    expect(res.body.categoryIds).toEqual([h.shop.categories['Food']]);
    const audited = await h.deps.knex('audit_log').where({ action: 'kitchen_screen.updated', subject: screen.id });
    expect(audited).toHaveLength(1);
  });

  it('revoking a screen ends its token: its socket closes with 4401 and its bumps get 401', async () => {
    const screen = await addScreen('Old screen');
    const s = await watch(screen.token, [screen.topic]);
    const order = await submitted(['Burger']);
    expect((await h.api('DELETE', `/api/v1/kitchen-screens/${screen.id}`, { token: manager })).status).toBe(204);
    expect((await s.closed).code).toBe(4401);
    expect((await bump(order.id, screen.token)).status).toBe(401);
  });
});

describe('a screen’s feed', () => {
  it('carries only the lines of the screen’s categories', async () => {
    const bar = await addScreen('Bar', ['Drinks']);
    const grill = await addScreen('Grill', ['Food']);
    const [barSocket, grillSocket] = await Promise.all([
      watch(bar.token, [bar.topic]),
      watch(grill.token, [grill.topic]),
    ]);
    const order = await submitted(['Sparkling water', 'Burger']);
    const ticketOf = (s: TestSocket) => s.waitFor((m) => m.event === 'kitchen.ticket' && m.data.orderId === order.id);
    expect((await ticketOf(barSocket)).data.lines.map((l: any) => l.name)).toEqual(['Sparkling water']);
    expect((await ticketOf(grillSocket)).data.lines.map((l: any) => l.name)).toEqual(['Burger']);
  });

  it('gets no ticket of an order with none of its lines', async () => {
    const bar = await addScreen('Bar', ['Drinks']);
    const grill = await addScreen('Grill', ['Food']);
    const [barSocket, grillSocket] = await Promise.all([
      watch(bar.token, [bar.topic]),
      watch(grill.token, [grill.topic]),
    ]);
    const drinks = await submitted(['Sparkling water']);
    const food = await submitted(['Burger']);
    // Events reach a screen in order: once the later order's ticket is there, the earlier one would be too.
    await grillSocket.waitFor((m) => m.event === 'kitchen.ticket' && m.data.orderId === food.id);
    await barSocket.waitFor((m) => m.event === 'kitchen.ticket' && m.data.orderId === drinks.id);
    expect(grillSocket.events((m) => m.data.orderId === drinks.id)).toEqual([]);
  });

  it('refuses a screen any topic but its own', async () => {
    const bar = await addScreen('Bar', ['Drinks']);
    const grill = await addScreen('Grill', ['Food']);
    const s = await connectSocket(h.baseUrl, bar.token);
    sockets.push(s);
    s.send({ type: 'subscribe', topics: [`kitchen:${h.shop.locationId}`, grill.topic, `orders:${h.shop.locationId}`] });
    expect((await s.waitFor((m) => m.type === 'subscribed')).topics).toEqual([]);
    expect((await s.waitFor((m) => m.type === 'error')).code).toBe('FORBIDDEN');
  });

  it('lets kitchen staff watch a screen’s topic', async () => {
    const bar = await addScreen('Bar', ['Drinks']);
    const s = await connectSocket(h.baseUrl, kitchen);
    sockets.push(s);
    s.send({ type: 'subscribe', topics: [bar.topic] });
    expect((await s.waitFor((m) => m.type === 'subscribed')).topics).toEqual([bar.topic]);
  });
});

describe('bumping from a screen', () => {
  it('readies the screen’s lines only; the order stays sent while another station cooks', async () => {
    const bar = await addScreen('Bar', ['Drinks']);
    await addScreen('Grill', ['Food']);
    const order = await submitted(['Sparkling water', 'Burger']);
    const res = await bump(order.id, bar.token, { screenId: bar.id });
    expect(res.status).toBe(200);
    expect(res.body.kitchenStatus).toBe('sent');
    expect(lineStatus(res.body, 'Sparkling water')).toBe('ready');
    expect(lineStatus(res.body, 'Burger')).toBe('sent');
  });

  it('makes the order ready, and announces it, once every station has bumped', async () => {
    const bar = await addScreen('Bar', ['Drinks']);
    const grill = await addScreen('Grill', ['Food']);
    const barSocket = await watch(bar.token, [bar.topic]);
    const order = await submitted(['Sparkling water', 'Burger']);
    expect((await bump(order.id, bar.token)).status).toBe(200);
    const res = await bump(order.id, grill.token);
    expect(res.status).toBe(200);
    expect(res.body.kitchenStatus).toBe('ready');
    expect(res.body.lines.map((l: any) => l.kitchenStatus)).toEqual(['ready', 'ready']);
    await barSocket.waitFor((m) => m.event === 'order.ready' && m.data.orderId === order.id);
  });

  it('refuses a second bump of the same screen with 409', async () => {
    const bar = await addScreen('Bar', ['Drinks']);
    await addScreen('Grill', ['Food']);
    const order = await submitted(['Sparkling water', 'Burger']);
    expect((await bump(order.id, bar.token)).status).toBe(200);
    expect((await bump(order.id, bar.token)).status).toBe(409);
  });

  it('refuses a bump from a screen with nothing on the order with 409', async () => {
    const bar = await addScreen('Bar', ['Drinks']);
    await addScreen('Grill', ['Food']);
    const order = await submitted(['Burger']);
    expect((await bump(order.id, bar.token)).status).toBe(409);
  });

  it('refuses a screen’s bump in another screen’s name with 403', async () => {
    const bar = await addScreen('Bar', ['Drinks']);
    const grill = await addScreen('Grill', ['Food']);
    const order = await submitted(['Burger']);
    expect((await bump(order.id, bar.token, { screenId: grill.id })).status).toBe(403);
  });

  it('lets kitchen staff bump for a screen, and refuses a screen id of no screen with 422', async () => {
    const grill = await addScreen('Grill', ['Food']);
    await addScreen('Bar', ['Drinks']);
    const order = await submitted(['Sparkling water', 'Burger']);
    const res = await bump(order.id, kitchen, { screenId: grill.id });
    expect(res.status).toBe(200);
    expect(lineStatus(res.body, 'Burger')).toBe('ready');
    const unknown = await bump(order.id, kitchen, { screenId: '00000000-0000-4000-8000-000000000000' });
    expect(unknown.status).toBe(422);
  });

  it('gives a screen no other REST rights', async () => {
    const bar = await addScreen('Bar', ['Drinks']);
    expect((await h.api('GET', '/api/v1/orders', { token: bar.token })).status).toBe(403);
    expect((await h.api('GET', '/api/v1/kitchen-screens', { token: bar.token })).status).toBe(403);
  });
});
