import { startHarness, Harness } from './support/harness';
import { connectSocket } from './support/ws-client';
import { hashPin, pinLookup } from '../db/pins';
import { DEMO_ORGANISATION_NAME, seedNairobiDemo } from '../db/seed';
import { randomUUID } from 'node:crypto';
import { until } from './support/payments';
import { parseCsv, records } from './support/csv';

/**
 * Organisations own locations; an owner spans them and picks one per request with X-Location-Id
 * (?locationId= on /ws); everyone else stays at their own location. Owners manage locations.
 */
let h: Harness;
let owner: string;
let admin: string;
let nairobiId: string;
let foreignId: string;
beforeAll(async () => {
  h = await startHarness();
  owner = await h.login('135790');
  admin = await h.login('1234');
  nairobiId = (await seedNairobiDemo(h.deps.knex, h.deps.config.tokenSecret)).locationId;
  const [org] = await h.deps.knex('organisations').insert({ name: 'Another chain' }).returning('id');
  const [loc] = await h.deps.knex('locations').insert({ name: 'Not ours', organisation_id: org.id }).returning('id');
  foreignId = loc.id;
});
afterAll(() => h?.close());

const settingsAs = (token: string, locationId?: string) =>
  h.api('GET', '/api/v1/settings', { token, headers: locationId ? { 'x-location-id': locationId } : {} });

describe('the demo seed', () => {
  it('puts both demo locations into one organisation', async () => {
    const rows = await h.deps
      .knex('locations as l')
      .join('organisations as o', 'o.id', 'l.organisation_id')
      .whereIn('l.id', [h.shop.locationId, nairobiId])
      .pluck('o.name');
    expect(rows).toEqual([DEMO_ORGANISATION_NAME, DEMO_ORGANISATION_NAME]);
  });

  it('has an Owner who logs in with role owner', async () => {
    const res = await h.api('POST', '/api/v1/auth/login', { body: { pin: '135790' } });
    expect(res.status).toBe(200);
    expect(res.body.staff).toMatchObject({ name: 'Owner', role: 'owner', locationId: h.shop.locationId });
  });
});

describe('owner scoping', () => {
  it("works at the owner's own location without X-Location-Id", async () => {
    const res = await settingsAs(owner);
    expect(res.status).toBe(200);
    expect(res.body.locationId).toBe(h.shop.locationId);
  });

  it('works at another location of the organisation named by X-Location-Id', async () => {
    const res = await settingsAs(owner, nairobiId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ locationId: nairobiId, currency: 'KES' });
  });

  it('answers 404 for a location of another organisation', async () => {
    const res = await settingsAs(owner, foreignId);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('NOT_FOUND');
  });

  it('still answers 405 for a method no route has, whatever X-Location-Id says', async () => {
    const res = await h.api('DELETE', '/api/v1/settings', { token: admin, headers: { 'x-location-id': nairobiId } });
    expect(res.status).toBe(405);
  });

  it('answers 404 for an X-Location-Id that is no id at all', async () => {
    expect((await settingsAs(owner, 'not-a-uuid')).status).toBe(404);
  });

  it('lets an admin name their own location but answers 404 for a sister location', async () => {
    expect((await settingsAs(admin, h.shop.locationId)).status).toBe(200);
    const res = await settingsAs(admin, nairobiId);
    expect(res.status).toBe(404);
    expect(JSON.stringify(res.body)).not.toContain('KES');
  });

  it('picks the location of a WebSocket with ?locationId=', async () => {
    const ws = await connectSocket(h.baseUrl, owner, { locationId: nairobiId });
    const welcome = await ws.waitFor((m) => m.type === 'welcome');
    expect(welcome.locationId).toBe(nairobiId);
    await ws.close();
  });

  it('refuses a WebSocket at a location the token may not use', async () => {
    const ws = await connectSocket(h.baseUrl, admin, { locationId: nairobiId });
    const error = await ws.waitFor((m) => m.type === 'error');
    expect(error.code).toBe('NOT_FOUND');
    expect((await ws.closed).code).toBe(4404);
  });

  it('declares X-Location-Id in the OpenAPI spec of every route with a token', async () => {
    const spec = (await h.api('GET', '/openapi.json')).body;
    const settings = spec.paths['/api/v1/settings'].get.parameters.map((p: { name: string }) => p.name);
    expect(settings).toContain('X-Location-Id');
  });
});

describe('location CRUD', () => {
  const create = (body: unknown, token = owner) => h.api('POST', '/api/v1/locations', { token, body });

  it('is for owners only', async () => {
    expect((await h.api('GET', '/api/v1/locations', { token: admin })).status).toBe(403);
  });

  it("lists the organisation's locations, not other organisations'", async () => {
    const res = await h.api('GET', '/api/v1/locations', { token: owner });
    expect(res.status).toBe(200);
    const ids = res.body.map((l: { locationId: string }) => l.locationId);
    expect(ids).toEqual(expect.arrayContaining([h.shop.locationId, nairobiId]));
    expect(ids).not.toContain(foreignId);
  });

  it('creates a location with its settings and an empty catalog and staff', async () => {
    const res = await create({ name: 'Harbour kiosk', currency: 'EUR', timezone: 'Europe/Lisbon', taxRate: 2300 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'Harbour kiosk',
      currency: 'EUR',
      timezone: 'Europe/Lisbon',
      taxRate: 2300,
      active: true,
    });
    const headers = { 'x-location-id': res.body.locationId };
    const items = await h.api('GET', '/api/v1/catalog/items', { token: owner, headers });
    expect(items.status).toBe(200);
    expect(items.body).toEqual([]);
    const staff = await h.api('GET', '/api/v1/staff', { token: owner, headers });
    expect(staff.status).toBe(200);
    expect(JSON.stringify(staff.body)).not.toContain('Cashier');
  });

  it('gives a new location order numbers of its own', async () => {
    const loc = (await create({ name: 'Numbered', currency: 'USD' })).body.locationId;
    const headers = { 'x-location-id': loc };
    const cat = await h.api('POST', '/api/v1/catalog/categories', { token: owner, headers, body: { name: 'All' } });
    const item = await h.api('POST', '/api/v1/catalog/items', {
      token: owner,
      headers,
      body: { name: 'Tea', categoryId: cat.body.id, price: 200 },
    });
    expect(item.status).toBe(201);
    await h.api('POST', '/api/v1/orders', {
      token: admin,
      body: {
        type: 'takeaway',
        lines: [{ itemId: h.shop.items.Latte, quantity: 1, modifierIds: [h.shop.modifiers.Regular] }],
      },
    });
    const order = await h.api('POST', '/api/v1/orders', {
      token: owner,
      headers,
      body: { type: 'takeaway', lines: [{ itemId: item.body.id, quantity: 1 }] },
    });
    expect(order.status).toBe(201);
    expect(order.body.orderNumber).toBe(1);
  });

  it('refuses an item of another location in an order', async () => {
    const loc = (await create({ name: 'Strict' })).body.locationId;
    const order = await h.api('POST', '/api/v1/orders', {
      token: owner,
      headers: { 'x-location-id': loc },
      body: { type: 'takeaway', lines: [{ itemId: h.shop.items.Burger, quantity: 1 }] },
    });
    expect([404, 422]).toContain(order.status);
  });

  it('reads and changes one location', async () => {
    const loc = (await create({ name: 'Renamed later' })).body.locationId;
    const patched = await h.api('PATCH', `/api/v1/locations/${loc}`, { token: owner, body: { name: 'Renamed' } });
    expect(patched.status).toBe(200);
    const read = await h.api('GET', `/api/v1/locations/${loc}`, { token: owner });
    expect(read.body).toMatchObject({ locationId: loc, name: 'Renamed' });
  });

  it("answers 404 for another organisation's location", async () => {
    expect((await h.api('GET', `/api/v1/locations/${foreignId}`, { token: owner })).status).toBe(404);
    expect((await h.api('DELETE', `/api/v1/locations/${foreignId}`, { token: owner })).status).toBe(404);
  });

  it("refuses to deactivate the owner's own location", async () => {
    expect((await h.api('DELETE', `/api/v1/locations/${h.shop.locationId}`, { token: owner })).status).toBe(409);
  });

  it('deactivates a location: its staff and displays are logged out, staff cannot log in, its orders stay', async () => {
    const loc = (await create({ name: 'Closing down' })).body.locationId;
    const headers = { 'x-location-id': loc };
    const cat = await h.api('POST', '/api/v1/catalog/categories', { token: owner, headers, body: { name: 'All' } });
    const item = await h.api('POST', '/api/v1/catalog/items', {
      token: owner,
      headers,
      body: { name: 'Bun', categoryId: cat.body.id, price: 100 },
    });
    const order = await h.api('POST', '/api/v1/orders', {
      token: owner,
      headers,
      body: { type: 'takeaway', lines: [{ itemId: item.body.id, quantity: 1 }] },
    });
    const paid = await h.api('POST', `/api/v1/orders/${order.body.id}/payments`, {
      token: owner,
      headers: { ...headers, 'Idempotency-Key': randomUUID() },
      body: { method: 'cash', amount: order.body.totals.balance, tendered: order.body.totals.balance },
    });
    expect(paid.body.order.status).toBe('closed');
    await until(
      async () => (await h.deps.knex('orders').where({ id: order.body.id }).first('persisted_at'))?.persisted_at,
      Boolean,
    );
    await h.deps.knex('staff').insert({
      location_id: loc,
      name: 'Closing cashier',
      role: 'cashier',
      pin_lookup: pinLookup(h.deps.config.tokenSecret, '5151'),
      pin_hash: await hashPin('5151'),
    });
    const cashier = await h.login('5151');
    const display = await h.api('POST', '/api/v1/displays', {
      token: owner,
      headers,
      body: { name: 'D', terminalId: 'd1' },
    });
    expect((await h.api('GET', '/api/v1/settings', { token: display.body.token })).status).toBe(403);
    expect((await h.api('DELETE', `/api/v1/locations/${loc}`, { token: owner })).status).toBe(204);
    expect((await h.api('GET', '/api/v1/settings', { token: cashier })).status).toBe(401);
    expect((await h.api('GET', '/api/v1/settings', { token: display.body.token })).status).toBe(401);
    expect((await h.api('POST', '/api/v1/auth/login', { body: { pin: '5151' } })).status).toBe(401);
    expect((await h.api('GET', `/api/v1/locations/${loc}`, { token: owner })).body.active).toBe(false);
    expect(await h.deps.knex('orders').where({ id: order.body.id }).first('status')).toEqual({ status: 'closed' });
  });
});

describe('logging in at a location', () => {
  it('logs an owner in at a sister location named by locationId, which the session then works at', async () => {
    const res = await h.api('POST', '/api/v1/auth/login', { body: { pin: '135790', locationId: nairobiId } });
    expect(res.status).toBe(200);
    expect(res.body.staff).toMatchObject({ role: 'owner', locationId: nairobiId });
    expect((await settingsAs(res.body.token)).body.locationId).toBe(nairobiId);
  });

  it("refuses an owner's PIN at a location of another organisation like a wrong PIN", async () => {
    const res = await h.api('POST', '/api/v1/auth/login', { body: { pin: '135790', locationId: foreignId } });
    expect(res.status).toBe(401);
  });

  it("refuses an admin's PIN at a sister location like a wrong PIN", async () => {
    const res = await h.api('POST', '/api/v1/auth/login', { body: { pin: '1234', locationId: nairobiId } });
    expect(res.status).toBe(401);
  });
});

describe('organisation report', () => {
  /** Noon UTC of a past day: the same local date in New York and in Nairobi. */
  const DAY = '2026-06-15';
  /** A paid takeaway of one item, as `token` at the location in `headers`, closed on DAY. */
  async function sale(token: string, itemId: string, headers: Record<string, string> = {}) {
    const order = await h.api('POST', '/api/v1/orders', {
      token,
      headers,
      body: { type: 'takeaway', lines: [{ itemId, quantity: 1 }] },
    });
    const balance = order.body.totals.balance;
    const paid = await h.api('POST', `/api/v1/orders/${order.body.id}/payments`, {
      token,
      headers: { ...headers, 'Idempotency-Key': randomUUID() },
      body: { method: 'cash', amount: balance, tendered: balance },
    });
    expect(paid.body.order.status).toBe('closed');
    await until(
      async () => (await h.deps.knex('orders').where({ id: order.body.id }).first('persisted_at'))?.persisted_at,
      Boolean,
    );
    await h.deps
      .knex('orders')
      .where({ id: order.body.id })
      .update({ closed_at: new Date(`${DAY}T12:00:00Z`) });
  }
  let report: any;
  beforeAll(async () => {
    await sale(admin, h.shop.items['Sparkling water']!);
    const chai = await h.deps.knex('items').where({ location_id: nairobiId, name: 'Chai' }).first('id');
    await sale(owner, chai.id, { 'x-location-id': nairobiId });
    const res = await h.api('GET', `/api/v1/reports/organisation?date=${DAY}`, { token: owner });
    expect(res.status).toBe(200);
    report = res.body;
  });
  const at = (id: string) => report.locations.find((l: { locationId: string }) => l.locationId === id);

  it("gives each location of the organisation its daily report, not other organisations'", () => {
    expect(at(h.shop.locationId).report).toMatchObject({ currency: 'USD', orders: 1 });
    expect(at(nairobiId).report).toMatchObject({ currency: 'KES', orders: 1 });
    expect(at(foreignId)).toBeUndefined();
  });

  it('sums the locations per currency', () => {
    const inUsd = report.locations.filter((l: any) => l.report.currency === 'USD');
    const usd = report.totals.find((t: { currency: string }) => t.currency === 'USD');
    expect(usd.net).toBe(inUsd.reduce((sum: number, l: any) => sum + l.report.net, 0));
    expect(usd.orders).toBe(inUsd.reduce((sum: number, l: any) => sum + l.report.orders, 0));
    const kes = report.totals.find((t: { currency: string }) => t.currency === 'KES');
    expect(kes).toMatchObject({ orders: 1, net: at(nairobiId).report.net });
    const currencies = new Set(report.locations.map((l: any) => l.report.currency));
    expect(report.totals.map((t: { currency: string }) => t.currency).sort()).toEqual([...currencies].sort());
  });

  it('gives the same figures as CSV: a row per location, then a total per currency', async () => {
    const res = await h.api('GET', `/api/v1/reports/organisation?date=${DAY}&format=csv`, { token: owner });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = records(parseCsv(res.body as string));
    const expected = [
      ...report.locations.map((l: any) => [l.locationId, l.name, l.report.currency, l.report.orders, l.report.net]),
      ...report.totals.map((t: any) => ['total', null, t.currency, t.orders, t.net]),
    ];
    expect(rows.map((r) => [r.locationId, r.location, r.currency, r.orders, r.net])).toEqual(expected);
  });

  it('is for owners only', async () => {
    expect((await h.api('GET', '/api/v1/reports/organisation', { token: admin })).status).toBe(403);
  });
});
