import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';

let h: Harness;
let manager: string;
let cashier: string;
let kitchen: string;
let other: { discountId: string; groupId: string };

const D = '/api/v1/discounts';
const G = '/api/v1/discount-groups';
const rows = async (table: string) => Number((await h.deps.knex(table).count({ n: '*' }).first())!.n);
const counts = async () => ({ discounts: await rows('discounts'), groups: await rows('discount_groups') });

beforeAll(async () => {
  h = await startHarness();
  [manager, cashier, kitchen] = await Promise.all([h.login('2345'), h.login('3456'), h.login('4567')]);
  const [loc] = await h.deps.knex('locations').insert({ name: 'Other shop' }).returning('id');
  const [g] = await h.deps.knex('discount_groups').insert({ location_id: loc.id, name: 'Their group' }).returning('id');
  const [d] = await h.deps
    .knex('discounts')
    .insert({ location_id: loc.id, group_id: g.id, name: 'Their 50%', type: 'percent', value: 5000 })
    .returning('id');
  other = { discountId: d.id, groupId: g.id };
});
afterAll(async () => h?.close());

function expect422(res: { status: number; body: any }, path?: string) {
  expect(res.status).toBe(422);
  expect(res.body.code).toBe('VALIDATION_ERROR');
  if (path) expect(res.body.errors.map((e: any) => e.path)).toContain(path);
}

describe('discounts', () => {
  it('lists and reads the seeded discounts for a cashier', async () => {
    const list = await h.api('GET', D, { token: cashier });
    expect(list.status).toBe(200);
    expect(list.body.map((d: any) => [d.name, d.type, d.value])).toEqual([
      ['Staff 10%', 'percent', 1000],
      ['$2 off', 'amount', 200],
    ]);
    const one = await h.api('GET', `${D}/${h.shop.discounts['Staff 10%']}`, { token: cashier });
    expect(one.body).toMatchObject({
      id: h.shop.discounts['Staff 10%'],
      groupId: list.body[0].groupId,
      available: true,
      sortOrder: 0,
    });
  });

  it('creates, changes and deletes discounts', async () => {
    const groups = await h.api('GET', G, { token: cashier });
    const groupId = groups.body[0].id;
    const pct = await h.api('POST', D, {
      token: manager,
      body: { name: 'Happy hour', type: 'percent', value: 10000, groupId, sortOrder: 3 },
    });
    expect(pct.status).toBe(201);
    expect(pct.body).toMatchObject({
      name: 'Happy hour',
      type: 'percent',
      value: 10000,
      groupId,
      available: true,
      sortOrder: 3,
    });
    const amt = await h.api('POST', D, { token: manager, body: { name: '€5 off', type: 'amount', value: 50000 } });
    expect(amt.status).toBe(201);
    expect(amt.body.groupId).toBeNull();

    const patched = await h.api('PATCH', `${D}/${pct.body.id}`, {
      token: manager,
      body: { value: 1500, groupId: null, available: false },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ value: 1500, groupId: null, available: false, name: 'Happy hour' });

    const toPercent = await h.api('PATCH', `${D}/${amt.body.id}`, {
      token: manager,
      body: { type: 'percent', value: 500 },
    });
    expect(toPercent.body).toMatchObject({ type: 'percent', value: 500 });

    expect((await h.api('DELETE', `${D}/${amt.body.id}`, { token: manager })).status).toBe(204);
    expect((await h.api('GET', `${D}/${amt.body.id}`, { token: cashier })).status).toBe(404);
  });

  it('rejects invalid discounts with 422 and writes nothing', async () => {
    const amountOff = h.shop.discounts['$2 off'];
    const before = await counts();
    const post = (body: unknown) => h.api('POST', D, { token: manager, body });
    const ok = { name: 'X', type: 'percent', value: 1000 };
    expect422(await post({ ...ok, value: 10001 }), 'value');
    expect422(await post({ ...ok, value: 0 }), 'value');
    expect422(await post({ ...ok, type: 'amount', value: 0 }), 'value');
    expect422(await post({ ...ok, value: '5' }), 'value');
    expect422(await post({ ...ok, value: 2.5 }), 'value');
    expect422(await post({ ...ok, type: 'bogo' }), 'type');
    expect422(await post({ name: 'No type', value: 5 }), 'type');
    expect422(await post({ ...ok, groupId: randomUUID() }), 'groupId');
    expect422(await post({ ...ok, groupId: other.groupId }), 'groupId');
    expect422(await post({ ...ok, groupId: 'group-1' }), 'groupId');
    expect422(await post({ ...ok, code: 'SAVE10' }));
    expect422(await h.api('PATCH', `${D}/${amountOff}`, { token: manager, body: {} }));
    // $2 off is 200 minor units; switching it to percent with value 20000 would mean 200%.
    await h.api('PATCH', `${D}/${amountOff}`, { token: manager, body: { value: 20000 } });
    expect422(await h.api('PATCH', `${D}/${amountOff}`, { token: manager, body: { type: 'percent' } }), 'value');
    await h.api('PATCH', `${D}/${amountOff}`, { token: manager, body: { value: 200 } });
    expect422(await h.api('PATCH', `${D}/${amountOff}`, { token: manager, body: { available: 'no' } }), 'available');
    expect422(await h.api('GET', `${D}/123`, { token: cashier }), 'params.id');
    expect(await counts()).toEqual(before);
    expect((await h.api('GET', `${D}/${amountOff}`, { token: cashier })).body).toMatchObject({
      type: 'amount',
      value: 200,
      available: true,
    });
  });

  it('lets cashiers read but only managers write; keeps the kitchen out', async () => {
    const before = await counts();
    expect((await h.api('GET', D)).status).toBe(401);
    expect((await h.api('GET', D, { token: kitchen })).status).toBe(403);
    expect((await h.api('GET', G, { token: kitchen })).status).toBe(403);
    expect(
      (await h.api('POST', D, { token: cashier, body: { name: 'Mine', type: 'percent', value: 10000 } })).status,
    ).toBe(403);
    expect(
      (await h.api('PATCH', `${D}/${h.shop.discounts['Staff 10%']}`, { token: cashier, body: { value: 10000 } }))
        .status,
    ).toBe(403);
    expect((await h.api('DELETE', `${D}/${h.shop.discounts['Staff 10%']}`, { token: cashier })).status).toBe(403);
    expect((await h.api('POST', G, { token: cashier, body: { name: 'Mine' } })).status).toBe(403);
    expect(await counts()).toEqual(before);
  });

  it("answers 404 for unknown ids and another location's discount", async () => {
    for (const id of [randomUUID(), other.discountId]) {
      expect((await h.api('GET', `${D}/${id}`, { token: cashier })).status).toBe(404);
      expect((await h.api('PATCH', `${D}/${id}`, { token: manager, body: { value: 1 } })).status).toBe(404);
      expect((await h.api('DELETE', `${D}/${id}`, { token: manager })).status).toBe(404);
    }
    expect((await h.api('GET', D, { token: cashier })).body.map((d: any) => d.id)).not.toContain(other.discountId);
    expect((await h.api('GET', G, { token: cashier })).body.map((g: any) => g.id)).not.toContain(other.groupId);
    expect(await h.deps.knex('discounts').where('id', other.discountId).first()).toMatchObject({ value: 5000 });
  });
});

describe('discount groups', () => {
  it('lists groups and lets a manager create one', async () => {
    const created = await h.api('POST', G, { token: manager, body: { name: 'Happy hours', sortOrder: 1 } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      name: 'Happy hours',
      available: true,
      sortOrder: 1,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const list = await h.api('GET', G, { token: cashier });
    expect(list.body.map((g: any) => g.name)).toEqual(['Staff & promos', 'Happy hours']);
    const d = await h.api('POST', D, {
      token: manager,
      body: { name: 'HH', type: 'amount', value: 100, groupId: created.body.id },
    });
    expect(d.body.groupId).toBe(created.body.id);
  });

  it('rejects invalid groups with 422', async () => {
    const before = await counts();
    expect422(await h.api('POST', G, { token: manager, body: {} }), 'name');
    expect422(await h.api('POST', G, { token: manager, body: { name: 'X', sortOrder: 'first' } }), 'sortOrder');
    expect422(await h.api('POST', G, { token: manager, body: { name: 'X', color: 'red' } }));
    expect(await counts()).toEqual(before);
  });
});
