import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { loadItemForOrder, loadMenu } from '../api/catalog-read';

let h: Harness;
let manager: string;
let cashier: string;
let kitchen: string;
/** A second shop, inserted directly: nothing of it may be visible from the demo shop. */
let other: { locationId: string; categoryId: string; itemId: string; modifierListId: string };

const C = '/api/v1/catalog';
const rows = async (table: string) => Number((await h.deps.knex(table).count({ n: '*' }).first())!.n);
const counts = async () => ({
  categories: await rows('categories'),
  items: await rows('items'),
  links: await rows('item_modifier_lists'),
  lists: await rows('modifier_lists'),
  modifiers: await rows('modifiers'),
});

beforeAll(async () => {
  h = await startHarness();
  [manager, cashier, kitchen] = await Promise.all([h.login('2345'), h.login('3456'), h.login('4567')]);
  const knex = h.deps.knex;
  const [loc] = await knex('locations').insert({ name: 'Other shop' }).returning('id');
  const [cat] = await knex('categories').insert({ location_id: loc.id, name: 'Other category' }).returning('id');
  const [item] = await knex('items')
    .insert({
      location_id: loc.id,
      category_id: cat.id,
      name: 'Other croissant',
      price: 999,
      barcode: '4006381333931',
      sku: 'CRO-1',
    })
    .returning('id');
  const [list] = await knex('modifier_lists').insert({ location_id: loc.id, name: 'Other list' }).returning('id');
  await knex('modifiers').insert({ location_id: loc.id, modifier_list_id: list.id, name: 'Other mod', price: 5 });
  other = { locationId: loc.id, categoryId: cat.id, itemId: item.id, modifierListId: list.id };
});
afterAll(async () => h?.close());

function expect422(res: { status: number; body: any }, path?: string) {
  expect(res.status).toBe(422);
  expect(res.body.code).toBe('VALIDATION_ERROR');
  if (path) expect(res.body.errors.map((e: any) => e.path)).toContain(path);
}

describe('categories', () => {
  it('creates, lists, reads, changes and deletes a category', async () => {
    const created = await h.api('POST', `${C}/categories`, {
      token: manager,
      body: { name: 'Desserts', sortOrder: 9, color: '#ff00aa' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.any(String),
      name: 'Desserts',
      sortOrder: 9,
      available: true,
      color: '#ff00aa',
    });
    const id = created.body.id;

    const list = await h.api('GET', `${C}/categories`, { token: cashier });
    expect(list.status).toBe(200);
    expect(list.body.map((c: any) => c.name)).toEqual(['Coffee', 'Food', 'Drinks', 'Desserts']);

    const patched = await h.api('PATCH', `${C}/categories/${id}`, {
      token: manager,
      body: { name: 'Sweets', available: false, color: null },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id, name: 'Sweets', available: false, color: null, sortOrder: 9 });
    expect((await h.api('GET', `${C}/categories/${id}`, { token: cashier })).body.name).toBe('Sweets');

    expect((await h.api('DELETE', `${C}/categories/${id}`, { token: manager })).status).toBe(204);
    expect((await h.api('GET', `${C}/categories/${id}`, { token: cashier })).status).toBe(404);
  });

  it('refuses to delete a category that still has items (409), but allows it once they are deleted', async () => {
    const before = await counts();
    const res = await h.api('DELETE', `${C}/categories/${h.shop.categories.Coffee}`, { token: manager });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('CONFLICT');
    expect(await counts()).toEqual(before);

    const cat = (await h.api('POST', `${C}/categories`, { token: manager, body: { name: 'Temp' } })).body;
    const item = (
      await h.api('POST', `${C}/items`, { token: manager, body: { name: 'Temp item', price: 100, categoryId: cat.id } })
    ).body;
    expect((await h.api('DELETE', `${C}/categories/${cat.id}`, { token: manager })).status).toBe(409);
    expect((await h.api('DELETE', `${C}/items/${item.id}`, { token: manager })).status).toBe(204);
    expect((await h.api('DELETE', `${C}/categories/${cat.id}`, { token: manager })).status).toBe(204);
  });

  it('needs a token, a manager to write, and keeps the kitchen out', async () => {
    expect((await h.api('GET', `${C}/categories`)).status).toBe(401);
    expect((await h.api('GET', `${C}/categories`, { token: kitchen })).status).toBe(403);
    const before = await counts();
    const res = await h.api('POST', `${C}/categories`, { token: cashier, body: { name: 'Nope' } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('FORBIDDEN');
    expect(
      (await h.api('PATCH', `${C}/categories/${h.shop.categories.Coffee}`, { token: cashier, body: { name: 'x' } }))
        .status,
    ).toBe(403);
    expect((await h.api('DELETE', `${C}/categories/${h.shop.categories.Drinks}`, { token: cashier })).status).toBe(403);
    expect(await counts()).toEqual(before);
  });

  it('rejects invalid input with 422 and writes nothing', async () => {
    const before = await counts();
    expect422(await h.api('POST', `${C}/categories`, { token: manager, body: {} }), 'name');
    expect422(await h.api('POST', `${C}/categories`, { token: manager, body: { name: '' } }), 'name');
    expect422(await h.api('POST', `${C}/categories`, { token: manager, body: { name: 'X', colour: '#ffffff' } }));
    expect422(await h.api('POST', `${C}/categories`, { token: manager, body: { name: 'nul\u0000byte' } }), 'name');
    expect422(await h.api('POST', `${C}/categories`, { token: manager, body: { name: 'x'.repeat(201) } }), 'name');
    expect422(await h.api('POST', `${C}/categories`, { token: manager, body: [] }));
    expect422(await h.api('POST', `${C}/categories`, { token: manager, body: { name: 'X', color: 'red' } }), 'color');
    expect422(
      await h.api('POST', `${C}/categories`, { token: manager, body: { name: 'X', sortOrder: '1' } }),
      'sortOrder',
    );
    expect422(
      await h.api('POST', `${C}/categories`, { token: manager, body: { name: 'X', available: 'yes' } }),
      'available',
    );
    expect422(await h.api('PATCH', `${C}/categories/${h.shop.categories.Coffee}`, { token: manager, body: {} }));
    expect422(await h.api('PATCH', `${C}/categories/not-a-uuid`, { token: manager, body: { name: 'X' } }), 'params.id');
    expect422(await h.api('GET', `${C}/categories/123`, { token: cashier }), 'params.id');
    expect(await counts()).toEqual(before);
    const coffee = await h.api('GET', `${C}/categories/${h.shop.categories.Coffee}`, { token: cashier });
    expect(coffee.body.name).toBe('Coffee');
  });

  it("answers 404 for unknown ids and for another location's category", async () => {
    for (const id of [randomUUID(), other.categoryId]) {
      expect((await h.api('GET', `${C}/categories/${id}`, { token: cashier })).status).toBe(404);
      expect(
        (await h.api('PATCH', `${C}/categories/${id}`, { token: manager, body: { name: 'Mine now' } })).status,
      ).toBe(404);
      expect((await h.api('DELETE', `${C}/categories/${id}`, { token: manager })).status).toBe(404);
    }
    const list = await h.api('GET', `${C}/categories`, { token: cashier });
    expect(list.body.map((c: any) => c.id)).not.toContain(other.categoryId);
    expect((await h.deps.knex('categories').where('id', other.categoryId).first()).name).toBe('Other category');
  });
});

describe('items', () => {
  const base = () => ({ name: 'Flat white', price: 420, categoryId: h.shop.categories.Coffee, sortOrder: 50 });

  it('creates an item with modifier lists in the given order, and reads it back', async () => {
    const body = {
      ...base(),
      sku: 'FW-1',
      barcode: '1234567890128',
      cost: 120,
      eventPrice: 500,
      trackStock: true,
      stockQuantity: 3,
      minStock: 5,
      sortOrder: 7,
      modifierListIds: [h.shop.modifierLists.Milk, h.shop.modifierLists.Size],
    };
    const created = await h.api('POST', `${C}/items`, { token: manager, body });
    expect(created.status).toBe(201);
    const { categoryId, ...rest } = body;
    expect(created.body).toMatchObject({
      ...rest,
      categoryId,
      id: expect.any(String),
      available: true,
      lowStock: true,
    });

    const read = await h.api('GET', `${C}/items/${created.body.id}`, { token: cashier });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
  });

  it('lists live items, filtered by category and availability', async () => {
    const food = await h.api('GET', `${C}/items?categoryId=${h.shop.categories.Food}`, { token: cashier });
    expect(food.status).toBe(200);
    expect(food.body.map((i: any) => i.name)).toEqual(['Burger', 'Croissant']);
    const burger = food.body[0];
    expect(burger.modifierListIds).toEqual([h.shop.modifierLists['Burger extras']]);

    await h.api('PATCH', `${C}/items/${h.shop.items.Burger}`, { token: manager, body: { available: false } });
    const unavailable = await h.api('GET', `${C}/items?available=false`, { token: cashier });
    expect(unavailable.body.map((i: any) => i.name)).toEqual(['Burger']);
    const available = await h.api('GET', `${C}/items?categoryId=${h.shop.categories.Food}&available=true`, {
      token: cashier,
    });
    expect(available.body.map((i: any) => i.name)).toEqual(['Croissant']);
    await h.api('PATCH', `${C}/items/${h.shop.items.Burger}`, { token: manager, body: { available: true } });

    const all = await h.api('GET', `${C}/items`, { token: cashier });
    expect(all.body.map((i: any) => i.id)).not.toContain(other.itemId);
    expect422(await h.api('GET', `${C}/items?available=maybe`, { token: cashier }), 'query.available');
    expect422(await h.api('GET', `${C}/items?categoryId=nope`, { token: cashier }), 'query.categoryId');
    expect422(await h.api('GET', `${C}/items?category=x`, { token: cashier }));
  });

  it('changes an item and replaces its modifier lists in order', async () => {
    const item = (
      await h.api('POST', `${C}/items`, {
        token: manager,
        body: { ...base(), name: 'Cortado', modifierListIds: [h.shop.modifierLists.Size] },
      })
    ).body;
    const res = await h.api('PATCH', `${C}/items/${item.id}`, {
      token: manager,
      body: { price: 390, sku: null, modifierListIds: [h.shop.modifierLists.Milk, h.shop.modifierLists.Size] },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: item.id, name: 'Cortado', price: 390, sku: null });
    expect(res.body.modifierListIds).toEqual([h.shop.modifierLists.Milk, h.shop.modifierLists.Size]);
    expect(Date.parse(res.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(item.updatedAt));

    const cleared = await h.api('PATCH', `${C}/items/${item.id}`, { token: manager, body: { modifierListIds: [] } });
    expect(cleared.body.modifierListIds).toEqual([]);
    expect(await h.deps.knex('item_modifier_lists').where('item_id', item.id)).toHaveLength(0);
  });

  it('flags low stock for tracked items at or below their minimum', async () => {
    const croissant = await h.api('GET', `${C}/items/${h.shop.items.Croissant}`, { token: cashier });
    expect(croissant.body).toMatchObject({ trackStock: true, stockQuantity: 24, minStock: 5, lowStock: false });
    const low = await h.api('PATCH', `${C}/items/${h.shop.items.Croissant}`, {
      token: manager,
      body: { stockQuantity: 5 },
    });
    expect(low.body.lowStock).toBe(true);
    const untracked = await h.api('PATCH', `${C}/items/${h.shop.items.Croissant}`, {
      token: manager,
      body: { trackStock: false },
    });
    expect(untracked.body.lowStock).toBe(false);
    await h.api('PATCH', `${C}/items/${h.shop.items.Croissant}`, {
      token: manager,
      body: { trackStock: true, stockQuantity: 24 },
    });
  });

  it('looks an item up by barcode, within this location only', async () => {
    const res = await h.api('GET', `${C}/items/barcode/4006381333931`, { token: cashier });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: h.shop.items.Croissant,
      name: 'Croissant',
      price: 325,
      barcode: '4006381333931',
    });
    const none = await h.api('GET', `${C}/items/barcode/0000000000000`, { token: cashier });
    expect(none.status).toBe(404);
    expect(none.body.code).toBe('NOT_FOUND');
    expect((await h.api('GET', `${C}/items/barcode/4006381333931`)).status).toBe(401);
    expect422(await h.api('GET', `${C}/items/barcode/%00`, { token: cashier }), 'params.code');
  });

  it('answers 409 for a duplicate barcode or SKU and writes nothing', async () => {
    await h.api('POST', `${C}/items`, { token: manager, body: { ...base(), name: 'Mocha', sku: 'MOCHA' } });
    const before = await counts();
    const dupBarcode = await h.api('POST', `${C}/items`, {
      token: manager,
      body: { ...base(), barcode: '4006381333931', modifierListIds: [h.shop.modifierLists.Size] },
    });
    expect(dupBarcode.status).toBe(409);
    expect(dupBarcode.body).toMatchObject({ code: 'CONFLICT', detail: expect.stringMatching(/barcode/) });
    const dupSku = await h.api('POST', `${C}/items`, { token: manager, body: { ...base(), sku: 'MOCHA' } });
    expect(dupSku.status).toBe(409);
    expect(dupSku.body.detail).toMatch(/SKU/);
    const patchDup = await h.api('PATCH', `${C}/items/${h.shop.items.Espresso}`, {
      token: manager,
      body: { barcode: '5449000000996', modifierListIds: [] },
    });
    expect(patchDup.status).toBe(409);
    expect(await counts()).toEqual(before);
    const espresso = await h.api('GET', `${C}/items/${h.shop.items.Espresso}`, { token: cashier });
    expect(espresso.body).toMatchObject({ barcode: null, modifierListIds: [h.shop.modifierLists.Size] });
  });

  it('rejects invalid items with 422 and writes nothing', async () => {
    const before = await counts();
    const post = (body: unknown) => h.api('POST', `${C}/items`, { token: manager, body });
    expect422(await post({ name: 'No price' }), 'price');
    expect422(await post({ ...base(), price: '5' }), 'price');
    expect422(await post({ ...base(), price: 1.5 }), 'price');
    expect422(await post({ ...base(), price: -1 }), 'price');
    expect422(await post({ ...base(), price: 10_000_000_000 }), 'price');
    expect422(await post({ ...base(), stockQuantity: '3' }), 'stockQuantity');
    expect422(await post({ ...base(), trackStock: 1 }), 'trackStock');
    expect422(await post({ ...base(), colour: 'red' }));
    expect422(await post({ ...base(), categoryId: 'abc' }), 'categoryId');
    expect422(await post({ ...base(), categoryId: randomUUID() }), 'categoryId');
    expect422(await post({ ...base(), categoryId: other.categoryId }), 'categoryId');
    expect422(
      await post({ ...base(), modifierListIds: [h.shop.modifierLists.Size, randomUUID()] }),
      'modifierListIds[1]',
    );
    expect422(await post({ ...base(), modifierListIds: [other.modifierListId] }), 'modifierListIds[0]');
    expect422(
      await post({ ...base(), modifierListIds: [h.shop.modifierLists.Size, h.shop.modifierLists.Size] }),
      'modifierListIds',
    );
    expect422(await post({ ...base(), modifierListIds: 'x' }), 'modifierListIds');
    expect422(await h.api('PATCH', `${C}/items/${h.shop.items.Latte}`, { token: manager, body: {} }));
    expect422(
      await h.api('PATCH', `${C}/items/${h.shop.items.Latte}`, { token: manager, body: { name: null } }),
      'name',
    );
    expect422(
      await h.api('PATCH', `${C}/items/${h.shop.items.Latte}`, {
        token: manager,
        body: { price: 1, modifierListIds: [randomUUID()] },
      }),
    );
    expect422(await h.api('GET', `${C}/items/xyz`, { token: cashier }), 'params.id');
    expect(await counts()).toEqual(before);
    const latte = await h.api('GET', `${C}/items/${h.shop.items.Latte}`, { token: cashier });
    expect(latte.body).toMatchObject({
      price: 450,
      modifierListIds: [h.shop.modifierLists.Size, h.shop.modifierLists.Milk],
    });
  });

  it('needs a manager to write and keeps the kitchen out of item reads', async () => {
    const before = await counts();
    expect((await h.api('GET', `${C}/items`)).status).toBe(401);
    expect((await h.api('GET', `${C}/items`, { token: kitchen })).status).toBe(403);
    expect((await h.api('GET', `${C}/items/${h.shop.items.Latte}`, { token: kitchen })).status).toBe(403);
    expect((await h.api('POST', `${C}/items`, { token: cashier, body: base() })).status).toBe(403);
    expect(
      (await h.api('PATCH', `${C}/items/${h.shop.items.Latte}`, { token: cashier, body: { price: 1 } })).status,
    ).toBe(403);
    expect((await h.api('DELETE', `${C}/items/${h.shop.items.Latte}`, { token: cashier })).status).toBe(403);
    expect(await counts()).toEqual(before);
  });

  it('soft-deletes an item: gone from the API, kept in the database, barcode reusable', async () => {
    const item = (
      await h.api('POST', `${C}/items`, { token: manager, body: { ...base(), name: 'Gone', barcode: '999' } })
    ).body;
    expect((await h.api('DELETE', `${C}/items/${item.id}`, { token: manager })).status).toBe(204);
    expect((await h.api('GET', `${C}/items/${item.id}`, { token: cashier })).status).toBe(404);
    expect((await h.api('PATCH', `${C}/items/${item.id}`, { token: manager, body: { price: 1 } })).status).toBe(404);
    expect((await h.api('DELETE', `${C}/items/${item.id}`, { token: manager })).status).toBe(404);
    expect((await h.api('GET', `${C}/items/barcode/999`, { token: cashier })).status).toBe(404);
    expect((await h.api('GET', `${C}/items`, { token: cashier })).body.map((i: any) => i.id)).not.toContain(item.id);
    expect((await h.deps.knex('items').where('id', item.id).first()).deleted_at).not.toBeNull();
    expect(
      (await h.api('POST', `${C}/items`, { token: manager, body: { ...base(), name: 'Back', barcode: '999' } })).status,
    ).toBe(201);
  });

  it("answers 404 for another location's item", async () => {
    expect((await h.api('GET', `${C}/items/${other.itemId}`, { token: cashier })).status).toBe(404);
    expect((await h.api('PATCH', `${C}/items/${other.itemId}`, { token: manager, body: { price: 1 } })).status).toBe(
      404,
    );
    expect((await h.api('DELETE', `${C}/items/${other.itemId}`, { token: manager })).status).toBe(404);
    expect((await h.api('GET', `${C}/items/${randomUUID()}`, { token: cashier })).status).toBe(404);
    expect(await h.deps.knex('items').where('id', other.itemId).first()).toMatchObject({
      price: 999,
      deleted_at: null,
    });
  });
});

describe('modifier lists', () => {
  it('creates a list with modifiers, lists and reads it', async () => {
    const res = await h.api('POST', `${C}/modifier-lists`, {
      token: manager,
      body: {
        name: 'Syrup',
        minSelections: 0,
        maxSelections: 2,
        sortOrder: 5,
        modifiers: [
          { name: 'Vanilla', price: 50, sortOrder: 2 },
          { name: 'Caramel', price: 50, sortOrder: 1, available: false },
          { name: 'Hazelnut', price: 60 },
        ],
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'Syrup',
      minSelections: 0,
      maxSelections: 2,
      sortOrder: 5,
      available: true,
    });
    expect(res.body.modifiers.map((m: any) => [m.name, m.sortOrder, m.available])).toEqual([
      ['Caramel', 1, false],
      ['Hazelnut', 2, true], // sortOrder defaults to the position in the array; ties go by name
      ['Vanilla', 2, true],
    ]);
    const read = await h.api('GET', `${C}/modifier-lists/${res.body.id}`, { token: cashier });
    expect(read.body).toEqual(res.body);
    const list = await h.api('GET', `${C}/modifier-lists`, { token: cashier });
    expect(list.body.map((l: any) => l.name)).toEqual(['Milk', 'Size', 'Burger extras', 'Syrup']);
    expect(list.body[1].modifiers.map((m: any) => m.name)).toEqual(['Regular', 'Large']);
  });

  it('replaces the modifiers on PATCH: kept ids updated, new ones inserted, missing ones deleted', async () => {
    const created = (
      await h.api('POST', `${C}/modifier-lists`, {
        token: manager,
        body: {
          name: 'Sauce',
          modifiers: [
            { name: 'Ketchup', price: 0 },
            { name: 'Mayo', price: 0 },
            { name: 'Aioli', price: 50 },
          ],
        },
      })
    ).body;
    const [ketchup, mayo, aioli] = created.modifiers.map((m: any) => m.id) as string[];
    const res = await h.api('PATCH', `${C}/modifier-lists/${created.id}`, {
      token: manager,
      body: {
        name: 'Sauces',
        modifiers: [
          { id: aioli, name: 'Garlic aioli', price: 70 },
          { name: 'BBQ', price: 30 },
          { id: ketchup, name: 'Ketchup', price: 0 },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('Sauces');
    expect(res.body.modifiers.map((m: any) => [m.id, m.name, m.price])).toEqual([
      [aioli, 'Garlic aioli', 70],
      [expect.any(String), 'BBQ', 30],
      [ketchup, 'Ketchup', 0],
    ]);
    expect(await h.deps.knex('modifiers').where('id', mayo).first()).toBeUndefined();

    const renamed = await h.api('PATCH', `${C}/modifier-lists/${created.id}`, {
      token: manager,
      body: { maxSelections: 3 },
    });
    expect(renamed.body.modifiers).toHaveLength(3);
  });

  it('rejects invalid lists with 422 and writes nothing', async () => {
    const size = h.shop.modifierLists.Size;
    const before = await counts();
    const post = (body: unknown) => h.api('POST', `${C}/modifier-lists`, { token: manager, body });
    const patch = (body: unknown) => h.api('PATCH', `${C}/modifier-lists/${size}`, { token: manager, body });
    expect422(await post({ name: 'X', maxSelections: 0 }), 'maxSelections');
    expect422(await post({ name: 'X', minSelections: 2, maxSelections: 1 }), 'maxSelections');
    expect422(await post({ name: 'X', minSelections: -1 }), 'minSelections');
    expect422(await post({ name: 'X', modifiers: [{ name: 'A' }] }), 'modifiers[0].price');
    expect422(await post({ name: 'X', modifiers: [{ name: 'A', price: '1' }] }), 'modifiers[0].price');
    expect422(await post({ name: 'X', modifiers: [{ name: 'A', price: 1, extra: true }] }));
    expect422(
      await post({ name: 'X', modifiers: [{ id: h.shop.modifiers.Regular, name: 'A', price: 1 }] }),
      'modifiers[0].id',
    );
    expect422(await patch({}));
    expect422(await patch({ minSelections: 2 }), 'maxSelections');
    expect422(
      await patch({ modifiers: [{ id: h.shop.modifiers['Oat milk'], name: 'Stolen', price: 1 }] }),
      'modifiers[0].id',
    );
    expect422(
      await patch({
        modifiers: [
          { id: h.shop.modifiers.Large, name: 'A', price: 1 },
          { id: h.shop.modifiers.Large, name: 'B', price: 1 },
        ],
      }),
      'modifiers',
    );
    expect422(
      await patch({
        name: 'Renamed',
        modifiers: [
          { name: 'Only', price: 0 },
          { id: randomUUID(), name: 'Ghost', price: 0 },
        ],
      }),
      'modifiers[1].id',
    );
    expect(await counts()).toEqual(before);
    const read = await h.api('GET', `${C}/modifier-lists/${size}`, { token: cashier });
    expect(read.body).toMatchObject({ name: 'Size', minSelections: 1, maxSelections: 1 });
    expect(read.body.modifiers.map((m: any) => m.name)).toEqual(['Regular', 'Large']);
  });

  it('needs a manager to write, and hides other locations', async () => {
    expect((await h.api('GET', `${C}/modifier-lists`)).status).toBe(401);
    expect((await h.api('GET', `${C}/modifier-lists`, { token: kitchen })).status).toBe(403);
    expect((await h.api('POST', `${C}/modifier-lists`, { token: cashier, body: { name: 'X' } })).status).toBe(403);
    expect((await h.api('GET', `${C}/modifier-lists/${other.modifierListId}`, { token: cashier })).status).toBe(404);
    expect(
      (await h.api('PATCH', `${C}/modifier-lists/${other.modifierListId}`, { token: manager, body: { name: 'X' } }))
        .status,
    ).toBe(404);
    expect((await h.api('DELETE', `${C}/modifier-lists/${other.modifierListId}`, { token: manager })).status).toBe(404);
    const list = await h.api('GET', `${C}/modifier-lists`, { token: cashier });
    expect(list.body.map((l: any) => l.id)).not.toContain(other.modifierListId);
  });

  it('deletes a list with its modifiers; items stop offering it', async () => {
    const list = (
      await h.api('POST', `${C}/modifier-lists`, {
        token: manager,
        body: { name: 'Temp', modifiers: [{ name: 'T', price: 1 }] },
      })
    ).body;
    const item = (
      await h.api('POST', `${C}/items`, {
        token: manager,
        body: { name: 'Temp item 2', price: 1, modifierListIds: [list.id, h.shop.modifierLists.Size] },
      })
    ).body;
    expect((await h.api('DELETE', `${C}/modifier-lists/${list.id}`, { token: manager })).status).toBe(204);
    expect((await h.api('GET', `${C}/modifier-lists/${list.id}`, { token: cashier })).status).toBe(404);
    expect(await h.deps.knex('modifiers').where('modifier_list_id', list.id)).toHaveLength(0);
    expect((await h.api('GET', `${C}/items/${item.id}`, { token: cashier })).body.modifierListIds).toEqual([
      h.shop.modifierLists.Size,
    ]);
  });
});

describe('menu', () => {
  it('is readable by cashier and kitchen, not without a token', async () => {
    expect((await h.api('GET', `${C}/menu`)).status).toBe(401);
    expect((await h.api('GET', `${C}/menu`, { token: kitchen })).status).toBe(200);
    expect((await h.api('GET', `${C}/menu`, { token: cashier })).status).toBe(200);
  });

  it('nests categories → items → modifier lists → modifiers in sortOrder', async () => {
    const menu = (await h.api('GET', `${C}/menu`, { token: kitchen })).body;
    const names = menu.categories.map((c: any) => c.name);
    expect(names.slice(0, 3)).toEqual(['Coffee', 'Food', 'Drinks']);
    const coffee = menu.categories[0];
    expect(coffee.items.slice(0, 2).map((i: any) => i.name)).toEqual(['Espresso', 'Latte']);
    const latte = coffee.items[1];
    expect(latte).toMatchObject({ id: h.shop.items.Latte, price: 450 });
    expect(latte.modifierLists.map((l: any) => l.name)).toEqual(['Size', 'Milk']); // the item's own order
    expect(latte.modifierLists[0]).toMatchObject({ minSelections: 1, maxSelections: 1 });
    expect(latte.modifierLists[0].modifiers.map((m: any) => [m.name, m.price])).toEqual([
      ['Regular', 0],
      ['Large', 80],
    ]);
    expect(JSON.stringify(menu)).not.toContain('Other');
  });

  it('omits unavailable categories, items, lists and modifiers, and deleted items', async () => {
    const post = async (path: string, body: unknown) =>
      (await h.api('POST', `${C}/${path}`, { token: manager, body })).body;
    const cat = await post('categories', { name: 'Menu test', sortOrder: 100 });
    const hidden = await post('categories', { name: 'Hidden category', sortOrder: 101, available: false });
    const list = await post('modifier-lists', {
      name: 'Toppings',
      modifiers: [
        { name: 'Sold out', price: 10, available: false },
        { name: 'Sprinkles', price: 20, sortOrder: 5 },
        { name: 'Cream', price: 20, sortOrder: 5 },
      ],
    });
    const offList = await post('modifier-lists', {
      name: 'Off list',
      available: false,
      modifiers: [{ name: 'Z', price: 1 }],
    });
    await post('items', {
      name: 'B item',
      price: 1,
      categoryId: cat.id,
      sortOrder: 1,
      modifierListIds: [offList.id, list.id],
    });
    await post('items', { name: 'A item', price: 1, categoryId: cat.id, sortOrder: 1 });
    await post('items', { name: 'First', price: 1, categoryId: cat.id, sortOrder: 0 });
    await post('items', { name: 'Unavailable', price: 1, categoryId: cat.id, available: false });
    const deleted = await post('items', { name: 'Deleted', price: 1, categoryId: cat.id });
    await h.api('DELETE', `${C}/items/${deleted.id}`, { token: manager });
    await post('items', { name: 'In hidden', price: 1, categoryId: hidden.id });

    const menu = (await h.api('GET', `${C}/menu`, { token: cashier })).body;
    expect(menu.categories.map((c: any) => c.name)).not.toContain('Hidden category');
    const section = menu.categories.find((c: any) => c.id === cat.id);
    expect(section.items.map((i: any) => i.name)).toEqual(['First', 'A item', 'B item']);
    const b = section.items[2];
    expect(b.modifierLists.map((l: any) => l.name)).toEqual(['Toppings']);
    expect(b.modifierLists[0].modifiers.map((m: any) => m.name)).toEqual(['Cream', 'Sprinkles']);
  });

  it('loads the menu with a fixed number of queries, however large the catalog', async () => {
    const queriesFor = async () => {
      let n = 0;
      const onQuery = () => n++;
      h.deps.knex.on('query', onQuery);
      try {
        await loadMenu(h.deps.knex, h.shop.locationId);
      } finally {
        h.deps.knex.off('query', onQuery);
      }
      return n;
    };
    const small = await queriesFor();
    for (let i = 0; i < 10; i++) {
      await h.api('POST', `${C}/items`, {
        token: manager,
        body: {
          name: `Bulk ${i}`,
          price: 100,
          categoryId: h.shop.categories.Drinks,
          modifierListIds: [h.shop.modifierLists.Size],
        },
      });
    }
    expect(await queriesFor()).toBe(small);
    expect(small).toBeLessThanOrEqual(4);
  });
});

describe('loadItemForOrder', () => {
  it('returns the item with all its lists and modifiers, availability flagged', async () => {
    await h.api('PATCH', `${C}/modifier-lists/${h.shop.modifierLists.Milk}`, {
      token: manager,
      body: {
        modifiers: [
          { id: h.shop.modifiers['Oat milk'], name: 'Oat milk', price: 60, available: false },
          { id: h.shop.modifiers['Almond milk'], name: 'Almond milk', price: 60 },
        ],
      },
    });
    const latte = await loadItemForOrder(h.deps.knex, h.shop.locationId, h.shop.items.Latte!);
    expect(latte).toEqual({
      id: h.shop.items.Latte,
      name: 'Latte',
      price: 450,
      priceKind: 'regular',
      available: true,
      trackStock: false,
      stockQuantity: 0,
      modifierLists: [
        {
          id: h.shop.modifierLists.Size,
          name: 'Size',
          minSelections: 1,
          maxSelections: 1,
          available: true,
          modifiers: [
            { id: h.shop.modifiers.Regular, name: 'Regular', price: 0, available: true },
            { id: h.shop.modifiers.Large, name: 'Large', price: 80, available: true },
          ],
        },
        {
          id: h.shop.modifierLists.Milk,
          name: 'Milk',
          minSelections: 0,
          maxSelections: 1,
          available: true,
          modifiers: [
            { id: h.shop.modifiers['Oat milk'], name: 'Oat milk', price: 60, available: false },
            { id: h.shop.modifiers['Almond milk'], name: 'Almond milk', price: 60, available: true },
          ],
        },
      ],
    });
  });

  it('is undefined for other locations, deleted items and junk ids; unavailable when the category is', async () => {
    expect(await loadItemForOrder(h.deps.knex, h.shop.locationId, other.itemId)).toBeUndefined();
    expect(await loadItemForOrder(h.deps.knex, h.shop.locationId, randomUUID())).toBeUndefined();
    expect(await loadItemForOrder(h.deps.knex, h.shop.locationId, 'not-a-uuid')).toBeUndefined();
    const cat = (await h.api('POST', `${C}/categories`, { token: manager, body: { name: 'Closed', available: false } }))
      .body;
    const item = (
      await h.api('POST', `${C}/items`, { token: manager, body: { name: 'Closed item', price: 5, categoryId: cat.id } })
    ).body;
    expect((await loadItemForOrder(h.deps.knex, h.shop.locationId, item.id))!.available).toBe(false);
    await h.api('DELETE', `${C}/items/${item.id}`, { token: manager });
    expect(await loadItemForOrder(h.deps.knex, h.shop.locationId, item.id)).toBeUndefined();
  });
});
