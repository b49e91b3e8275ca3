import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';

let h: Harness;
let manager: string;
let cashier: string;
let otherGroupId: string;

const D = '/api/v1/discounts';
const G = '/api/v1/discount-groups';

beforeAll(async () => {
  h = await startHarness();
  [manager, cashier] = await Promise.all([h.login('2345'), h.login('3456')]);
  const [loc] = await h.deps.knex('locations').insert({ name: 'Other shop' }).returning('id');
  const [g] = await h.deps.knex('discount_groups').insert({ location_id: loc.id, name: 'Their group' }).returning('id');
  otherGroupId = g.id;
});
afterAll(async () => h?.close());

const group = async (body: Record<string, unknown>) => {
  const res = await h.api('POST', G, { token: manager, body });
  expect(res.status).toBe(201);
  return res.body;
};
const discount = async (body: Record<string, unknown>) => {
  const res = await h.api('POST', D, { token: manager, body: { type: 'amount', value: 50, ...body } });
  expect(res.status).toBe(201);
  return res.body;
};
const openOrder = async () => {
  const res = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items.Croissant, quantity: 2 }] },
  });
  expect(res.status).toBe(201);
  return res.body;
};
const apply = (orderId: string, discountId: string) =>
  h.api('POST', `/api/v1/orders/${orderId}/discounts`, { token: cashier, body: { discountId } });

describe('discount group CRUD', () => {
  it('creates, reads, changes and lists groups in sortOrder', async () => {
    const created = await group({ name: 'Lunch deals', sortOrder: 7, available: false });
    expect(created).toMatchObject({ name: 'Lunch deals', sortOrder: 7, available: false });
    const read = await h.api('GET', `${G}/${created.id}`, { token: cashier });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created);

    const changed = await h.api('PATCH', `${G}/${created.id}`, {
      token: manager,
      body: { name: 'Early deals', available: true, sortOrder: -1 },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ id: created.id, name: 'Early deals', available: true, sortOrder: -1 });
    const list = await h.api('GET', G, { token: cashier });
    expect(list.body[0]).toMatchObject({ id: created.id, name: 'Early deals' });
  });

  it('deletes a group and keeps its discounts, ungrouped', async () => {
    const g = await group({ name: 'Short lived' });
    const d = await discount({ name: 'Orphan', groupId: g.id });
    const del = await h.api('DELETE', `${G}/${g.id}`, { token: manager });
    expect(del.status).toBe(204);
    expect((await h.api('GET', `${G}/${g.id}`, { token: cashier })).status).toBe(404);
    const after = await h.api('GET', `${D}/${d.id}`, { token: cashier });
    expect(after.body.groupId).toBeNull();
  });

  it('lets only managers write', async () => {
    const g = await group({ name: 'Guarded' });
    expect((await h.api('PATCH', `${G}/${g.id}`, { token: cashier, body: { available: false } })).status).toBe(403);
    expect((await h.api('DELETE', `${G}/${g.id}`, { token: cashier })).status).toBe(403);
    expect((await h.api('GET', `${G}/${g.id}`, { token: cashier })).body).toEqual(g);
  });

  it("answers 404 for unknown ids and another location's group", async () => {
    for (const id of [randomUUID(), otherGroupId]) {
      expect((await h.api('GET', `${G}/${id}`, { token: cashier })).status).toBe(404);
      expect((await h.api('PATCH', `${G}/${id}`, { token: manager, body: { available: false } })).status).toBe(404);
      expect((await h.api('DELETE', `${G}/${id}`, { token: manager })).status).toBe(404);
    }
    expect(await h.deps.knex('discount_groups').where('id', otherGroupId).first()).toMatchObject({
      name: 'Their group',
    });
  });

  it('refuses malformed changes with 422 and writes nothing', async () => {
    const g = await group({ name: 'Strict' });
    for (const body of [{}, { available: 'yes' }, { name: '' }, { sortOrder: 1.5 }, { color: 'red' }, { name: null }]) {
      const res = await h.api('PATCH', `${G}/${g.id}`, { token: manager, body });
      expect(res.status).toBe(422);
      expect(res.body.code).toBe('VALIDATION_ERROR');
    }
    expect((await h.api('POST', G, { token: manager, body: { name: 'X', available: 1 } })).status).toBe(422);
    expect((await h.api('GET', `${G}/${g.id}`, { token: cashier })).body).toEqual(g);
  });
});

describe('an unavailable group', () => {
  it('refuses its discounts on an order with 409 and leaves the order as it was; they apply again once it is back', async () => {
    const g = await group({ name: 'Happy hour', available: false });
    const d = await discount({ name: 'HH 50c', groupId: g.id });
    const order = await openOrder();
    const refused = await apply(order.id, d.id);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('CONFLICT');
    const unchanged = await h.api('GET', `/api/v1/orders/${order.id}`, { token: cashier });
    expect(unchanged.body.discounts).toEqual([]);
    expect(unchanged.body.version).toBe(order.version);

    await h.api('PATCH', `${G}/${g.id}`, { token: manager, body: { available: true } });
    const applied = await apply(order.id, d.id);
    expect(applied.status).toBe(200);
    expect(applied.body.discounts.map((x: any) => x.name)).toEqual(['HH 50c']);
  });
});

describe('the menu', () => {
  it('shows available groups in sortOrder with their available discounts in sortOrder', async () => {
    const second = await group({ name: 'Menu B', sortOrder: 20 });
    const first = await group({ name: 'Menu A', sortOrder: 10 });
    const hidden = await group({ name: 'Menu hidden', sortOrder: 15, available: false });
    await discount({ name: 'A2', groupId: first.id, sortOrder: 2 });
    await discount({ name: 'A1', groupId: first.id, sortOrder: 1 });
    await discount({ name: 'A off', groupId: first.id, sortOrder: 0, available: false });
    await discount({ name: 'B1', groupId: second.id, type: 'percent', value: 500 });
    await discount({ name: 'Hidden 1', groupId: hidden.id });

    const menu = (await h.api('GET', '/api/v1/catalog/menu', { token: cashier })).body;
    const groups = menu.discountGroups.filter((x: any) => x.name.startsWith('Menu'));
    expect(groups.map((x: any) => [x.name, x.discounts.map((d: any) => d.name)])).toEqual([
      ['Menu A', ['A1', 'A2']],
      ['Menu B', ['B1']],
    ]);
    expect(groups[1].discounts[0]).toMatchObject({ type: 'percent', value: 500 });
    expect(JSON.stringify(menu)).not.toContain('Hidden 1');
    expect(JSON.stringify(menu)).not.toContain('Their group');
  });
});
