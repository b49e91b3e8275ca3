import * as yup from 'yup';
import type { Knex } from 'knex';
import { json, route, CASHIER, KITCHEN, MANAGER, type AnyRoute } from '../route';
import { listOf, ref as schemaRef } from '../openapi-schemas';
import { conflict, fieldError, notFound } from '../errors';
import {
  money,
  bool,
  conflictOnUnique,
  count,
  defined,
  idParams,
  int4,
  name,
  noUnknown,
  nonBlank,
  nonEmpty,
  text,
  uuid,
} from '../validation';
import { Category, Item, ItemModifierList, Modifier, ModifierList } from '../../db/models/catalog';
import { isLowStock, loadDiscountMenu, loadMenu } from '../catalog-read';
import { audit } from '../audit';
import { applyMovement } from '../../db/stock';
import type { AuthContext } from '../types';

const TAG = 'Catalog';
const BASE = '/api/v1/catalog';

// ---- Categories ----

const categoryFields = {
  name: name(),
  sortOrder: int4(),
  available: bool(),
  color: yup
    .string()
    .strict()
    .matches(/^#[0-9a-fA-F]{6}$/, '${path} must be a colour like #1e90ff')
    .nullable(),
};
const categoryCreate = noUnknown(yup.object({ ...categoryFields, name: name().required() }));
const categoryPatch = nonEmpty(noUnknown(yup.object(categoryFields)));

const categoryView = (c: Category) => ({
  id: c.id,
  name: c.name,
  sortOrder: c.sortOrder,
  available: c.available,
  color: c.color,
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
});

async function findCategory(knex: Knex, locationId: string, id: string): Promise<Category> {
  const c = await Category.query(knex).findOne({ id, location_id: locationId });
  if (!c) throw notFound('Category');
  return c;
}

const listCategories = route({
  method: 'get',
  path: `${BASE}/categories`,
  summary: 'List categories (sortOrder, then name)',
  tag: TAG,
  roles: CASHIER,
  responses: { 200: json('Category[]', listOf('Category')) },
  handler: async ({ auth, deps }) =>
    (await Category.query(deps.knex).where('location_id', auth.locationId).orderBy(['sort_order', 'name', 'id'])).map(
      categoryView,
    ),
});

const createCategory = route({
  method: 'post',
  path: `${BASE}/categories`,
  summary: 'Create a category',
  tag: TAG,
  roles: MANAGER,
  body: categoryCreate,
  responses: { 201: json('Category', schemaRef('Category')) },
  handler: async ({ body, auth, deps, ctx }) => {
    const c = await Category.query(deps.knex)
      .insert({ ...defined(body), locationId: auth.locationId })
      .returning('*');
    ctx.status = 201;
    return categoryView(c);
  },
});

const showCategory = route({
  method: 'get',
  path: `${BASE}/categories/:id`,
  summary: 'Get a category',
  tag: TAG,
  roles: CASHIER,
  params: idParams,
  responses: { 200: json('Category', schemaRef('Category')) },
  handler: async ({ params, auth, deps }) => categoryView(await findCategory(deps.knex, auth.locationId, params.id)),
});

const changeCategory = route({
  method: 'patch',
  path: `${BASE}/categories/:id`,
  summary: 'Change a category',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  body: categoryPatch,
  responses: { 200: json('Category', schemaRef('Category')) },
  handler: async ({ params, body, auth, deps }) => {
    const [c] = await Category.query(deps.knex)
      .where({ id: params.id, location_id: auth.locationId })
      .patch(defined(body))
      .returning('*');
    if (!c) throw notFound('Category');
    return categoryView(c);
  },
});

const deleteCategory = route({
  method: 'delete',
  path: `${BASE}/categories/:id`,
  summary: 'Delete a category (409 while it has items)',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  responses: { 204: 'deleted' },
  errors: [409],
  handler: async ({ params, auth, deps, ctx }) => {
    await deps.knex.transaction(async (trx) => {
      // Locks the category so no item can be created in it between the check and the delete.
      const c = await Category.query(trx).findOne({ id: params.id, location_id: auth.locationId }).forUpdate();
      if (!c) throw notFound('Category');
      const inUse = await Item.query(trx).where('category_id', c.id).whereNull('deleted_at').first();
      if (inUse) throw conflict('The category still has items: move or delete them first');
      await Category.query(trx).deleteById(c.id);
    });
    ctx.status = 204;
    return undefined;
  },
});

function categoryRoutes(): AnyRoute[] {
  return [listCategories, createCategory, showCategory, changeCategory, deleteCategory];
}

// ---- Items ----

const code = () => nonBlank(64);
const modifierListIds = () =>
  yup
    .array(uuid().required())
    .strict()
    .max(50)
    .test('unique', '${path} must not repeat an id', (ids) => !ids || new Set(ids).size === ids.length);
const itemFields = {
  name: name(),
  categoryId: uuid().nullable(),
  price: money(),
  eventPrice: money().nullable(),
  sku: code().nullable(),
  barcode: code().nullable(),
  cost: money().nullable(),
  trackStock: bool(),
  stockQuantity: count(),
  minStock: count(),
  sortOrder: int4(),
  available: bool(),
  modifierListIds: modifierListIds(),
};
const itemCreate = noUnknown(yup.object({ ...itemFields, name: name().required(), price: money().required() }));
const itemPatch = nonEmpty(noUnknown(yup.object(itemFields)));
const itemQuery = noUnknown(
  yup.object({ categoryId: uuid(), available: yup.boolean().typeError('${path} must be true or false') }),
);

const ITEM_CONFLICTS = {
  items_barcode_per_location: 'Another item already has this barcode',
  items_sku_per_location: 'Another item already has this SKU',
};

type ItemView = ReturnType<typeof itemView>;
const itemView = (i: Item, modifierListIds: string[]) => ({
  id: i.id,
  categoryId: i.categoryId,
  name: i.name,
  price: i.price,
  eventPrice: i.eventPrice,
  sku: i.sku,
  barcode: i.barcode,
  cost: i.cost,
  trackStock: i.trackStock,
  stockQuantity: i.stockQuantity,
  minStock: i.minStock,
  lowStock: isLowStock(i),
  sortOrder: i.sortOrder,
  available: i.available,
  modifierListIds,
  createdAt: i.createdAt,
  updatedAt: i.updatedAt,
});

/** Item views with their modifier list ids (one query for all of them). */
async function itemViews(knex: Knex, items: Item[]): Promise<ItemView[]> {
  const links = items.length
    ? await ItemModifierList.query(knex)
        .whereIn(
          'item_id',
          items.map((i) => i.id),
        )
        .orderBy(['sort_order', 'modifier_list_id'])
    : [];
  return items.map((i) =>
    itemView(
      i,
      links.filter((l) => l.itemId === i.id).map((l) => l.modifierListId),
    ),
  );
}

const liveItems = (knex: Knex, locationId: string) =>
  Item.query(knex).where('location_id', locationId).whereNull('deleted_at');

async function findItem(knex: Knex, locationId: string, id: string): Promise<Item> {
  const item = await liveItems(knex, locationId).findById(id);
  if (!item) throw notFound('Item');
  return item;
}

/** 422 unless the category exists at this location; share-locked so it cannot be deleted under us. */
async function assertCategory(trx: Knex.Transaction, locationId: string, categoryId: string | null | undefined) {
  if (!categoryId) return;
  const c = await Category.query(trx).findOne({ id: categoryId, location_id: locationId }).forShare();
  if (!c) throw fieldError('categoryId', 'categoryId is not a category of this location');
}

/** 422 unless every list exists at this location. */
async function assertModifierLists(trx: Knex.Transaction, locationId: string, ids: string[] | undefined) {
  if (!ids?.length) return;
  const found = new Set(
    (await ModifierList.query(trx).where('location_id', locationId).whereIn('id', ids).forShare().select('id')).map(
      (l) => l.id,
    ),
  );
  const missing = ids.findIndex((id) => !found.has(id));
  if (missing >= 0) throw fieldError(`modifierListIds[${missing}]`, 'Not a modifier list of this location');
}

async function setItemModifierLists(trx: Knex.Transaction, locationId: string, itemId: string, ids: string[]) {
  await ItemModifierList.query(trx).where('item_id', itemId).delete();
  if (ids.length) {
    await ItemModifierList.query(trx).insert(
      ids.map((modifierListId, sortOrder) => ({ locationId, itemId, modifierListId, sortOrder })),
    );
  }
}

const listItems = route({
  method: 'get',
  path: `${BASE}/items`,
  summary: 'List items (?categoryId=&available=)',
  tag: TAG,
  roles: CASHIER,
  query: itemQuery,
  responses: { 200: json('Item[]', listOf('Item')) },
  handler: async ({ query, auth, deps }) => {
    const q = liveItems(deps.knex, auth.locationId).orderBy(['sort_order', 'name', 'id']);
    if (query.categoryId) q.where('category_id', query.categoryId);
    if (query.available !== undefined) q.where('available', query.available);
    return itemViews(deps.knex, await q);
  },
});

const createItem = route({
  method: 'post',
  path: `${BASE}/items`,
  summary: 'Create an item',
  tag: TAG,
  roles: MANAGER,
  body: itemCreate,
  responses: { 201: json('Item', schemaRef('Item')) },
  errors: [409],
  handler: async ({ body, auth, deps, ctx }) => {
    const { modifierListIds: listIds = [], ...fields } = body;
    const item = await deps.knex
      .transaction(async (trx) => {
        await assertCategory(trx, auth.locationId, fields.categoryId);
        await assertModifierLists(trx, auth.locationId, listIds);
        const created = await Item.query(trx)
          .insert({ ...defined(fields), locationId: auth.locationId })
          .returning('*');
        await setItemModifierLists(trx, auth.locationId, created.id, listIds);
        return created;
      })
      .catch(conflictOnUnique(ITEM_CONFLICTS));
    ctx.status = 201;
    return itemView(item, listIds);
  },
});

const findByBarcode = route({
  method: 'get',
  path: `${BASE}/items/barcode/:code`,
  summary: 'Find an item by barcode (scanner lookup)',
  tag: TAG,
  roles: CASHIER,
  params: yup.object({ code: text(64).required() }),
  responses: { 200: json('Item', schemaRef('Item')) },
  handler: async ({ params, auth, deps }) => {
    const item = await liveItems(deps.knex, auth.locationId).findOne({ barcode: params.code });
    if (!item) throw notFound('Item with this barcode');
    return (await itemViews(deps.knex, [item]))[0];
  },
});

const showItem = route({
  method: 'get',
  path: `${BASE}/items/:id`,
  summary: 'Get an item',
  tag: TAG,
  roles: CASHIER,
  params: idParams,
  responses: { 200: json('Item', schemaRef('Item')) },
  handler: async ({ params, auth, deps }) =>
    (await itemViews(deps.knex, [await findItem(deps.knex, auth.locationId, params.id)]))[0],
});

const changeItem = route({
  method: 'patch',
  path: `${BASE}/items/:id`,
  summary: 'Change an item (modifierListIds replaces the lists, in order)',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  body: itemPatch,
  responses: { 200: json('Item', schemaRef('Item')) },
  errors: [409],
  handler: async ({ params, body, auth, deps }) => {
    const { modifierListIds: listIds, stockQuantity, ...fields } = body;
    const item = await deps.knex
      .transaction(async (trx) => {
        const existing = await liveItems(trx, auth.locationId).findById(params.id).forUpdate();
        if (!existing) throw notFound('Item');
        await assertCategory(trx, auth.locationId, fields.categoryId);
        await assertModifierLists(trx, auth.locationId, listIds);
        // Stock changes only through a movement, so the movements always add up to the quantity.
        if (stockQuantity !== undefined && stockQuantity !== existing.stockQuantity) {
          const delta = stockQuantity - existing.stockQuantity;
          await applyMovement(trx, {
            locationId: auth.locationId,
            itemId: existing.id,
            delta,
            reason: 'adjustment',
            staffId: auth.staffId,
            note: 'stock set on the item',
          });
        }
        const [updated] = Object.keys(defined(fields)).length
          ? await Item.query(trx).where('id', existing.id).patch(defined(fields)).returning('*')
          : [await Item.query(trx).findById(existing.id)];
        if (listIds) await setItemModifierLists(trx, auth.locationId, existing.id, listIds);
        if (updated!.price !== existing.price) {
          await audit(trx, auth, 'catalog.item_price_changed', existing.id, {
            name: updated!.name,
            before: { price: existing.price },
            after: { price: updated!.price },
          });
        }
        return updated!;
      })
      .catch(conflictOnUnique(ITEM_CONFLICTS));
    return (await itemViews(deps.knex, [item]))[0];
  },
});

const deleteItem = route({
  method: 'delete',
  path: `${BASE}/items/:id`,
  summary: 'Delete an item (soft: order history keeps it)',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  responses: { 204: 'deleted' },
  handler: async ({ params, auth, deps, ctx }) => {
    const n = await liveItems(deps.knex, auth.locationId).where('id', params.id).patch({ deletedAt: new Date() });
    if (!n) throw notFound('Item');
    ctx.status = 204;
    return undefined;
  },
});

function itemRoutes(): AnyRoute[] {
  return [listItems, createItem, findByBarcode, showItem, changeItem, deleteItem];
}

// ---- Modifier lists ----

const modifierInput = noUnknown(
  yup.object({ id: uuid(), name: name().required(), price: money().required(), sortOrder: int4(), available: bool() }),
);
const modifierListFields = {
  name: name(),
  minSelections: count(),
  maxSelections: count().min(1),
  sortOrder: int4(),
  available: bool(),
  modifiers: yup
    .array(modifierInput.required())
    .strict()
    .max(100)
    .test('unique-ids', '${path} must not repeat an id', (ms) => {
      const ids = (ms ?? []).flatMap((m) => (m?.id ? [m.id] : []));
      return new Set(ids).size === ids.length;
    }),
};
const modifierListCreate = noUnknown(yup.object({ ...modifierListFields, name: name().required() }));
const modifierListPatch = nonEmpty(noUnknown(yup.object(modifierListFields)));
type ModifierInput = yup.InferType<typeof modifierInput>;

const modifierView = (m: Modifier) => ({
  id: m.id,
  name: m.name,
  price: m.price,
  sortOrder: m.sortOrder,
  available: m.available,
});
const modifierListView = (l: ModifierList, modifiers: Modifier[]) => ({
  id: l.id,
  name: l.name,
  minSelections: l.minSelections,
  maxSelections: l.maxSelections,
  sortOrder: l.sortOrder,
  available: l.available,
  modifiers: modifiers.filter((m) => m.modifierListId === l.id).map(modifierView),
  createdAt: l.createdAt,
  updatedAt: l.updatedAt,
});

async function modifierListViews(knex: Knex, lists: ModifierList[]) {
  const modifiers = lists.length
    ? await Modifier.query(knex)
        .whereIn(
          'modifier_list_id',
          lists.map((l) => l.id),
        )
        .orderBy(['sort_order', 'name', 'id'])
    : [];
  return lists.map((l) => modifierListView(l, modifiers));
}

async function findModifierList(knex: Knex, locationId: string, id: string): Promise<ModifierList> {
  const l = await ModifierList.query(knex).findOne({ id, location_id: locationId });
  if (!l) throw notFound('Modifier list');
  return l;
}

function assertSelections(min: number, max: number) {
  if (max < min) throw fieldError('maxSelections', 'maxSelections must be at least minSelections');
}

/** Replaces the list's modifiers: sent ids are updated, entries without id inserted, the rest deleted. */
async function replaceModifiers(trx: Knex.Transaction, locationId: string, listId: string, input: ModifierInput[]) {
  const existing = new Set((await Modifier.query(trx).where('modifier_list_id', listId).select('id')).map((m) => m.id));
  const foreign = input.findIndex((m) => m.id && !existing.has(m.id));
  if (foreign >= 0) throw fieldError(`modifiers[${foreign}].id`, 'Not a modifier of this list');
  const kept = input.flatMap((m) => (m.id ? [m.id] : []));
  await Modifier.query(trx).where('modifier_list_id', listId).whereNotIn('id', kept).delete();
  for (const [index, { id, ...m }] of input.entries()) {
    const row = { name: m.name, price: m.price, sortOrder: m.sortOrder ?? index, available: m.available ?? true };
    if (id) await Modifier.query(trx).findById(id).patch(row);
    else await Modifier.query(trx).insert({ ...row, locationId, modifierListId: listId });
  }
}

/** Replacing a list's modifiers may change what they cost: audit the prices before and after. */
async function auditModifierPrices(
  trx: Knex.Transaction,
  auth: AuthContext,
  listId: string,
  replace: () => Promise<void>,
) {
  const prices = async () =>
    Object.fromEntries(
      (await Modifier.query(trx).where('modifier_list_id', listId).orderBy('id')).map((m) => [
        m.id,
        { name: m.name, price: m.price },
      ]),
    );
  const before = await prices();
  await replace();
  const after = await prices();
  const priceOnly = (m: Record<string, { price: number }>) =>
    JSON.stringify(Object.entries(m).map(([id, v]) => [id, v.price]));
  if (priceOnly(before) !== priceOnly(after)) {
    await audit(trx, auth, 'catalog.modifier_prices_changed', listId, { before, after });
  }
}

const listModifierLists = route({
  method: 'get',
  path: `${BASE}/modifier-lists`,
  summary: 'List modifier lists with their modifiers',
  tag: TAG,
  roles: CASHIER,
  responses: { 200: json('ModifierList[]', listOf('ModifierList')) },
  handler: async ({ auth, deps }) =>
    modifierListViews(
      deps.knex,
      await ModifierList.query(deps.knex).where('location_id', auth.locationId).orderBy(['sort_order', 'name', 'id']),
    ),
});

const createModifierList = route({
  method: 'post',
  path: `${BASE}/modifier-lists`,
  summary: 'Create a modifier list with its modifiers',
  tag: TAG,
  roles: MANAGER,
  body: modifierListCreate,
  responses: { 201: json('ModifierList', schemaRef('ModifierList')) },
  handler: async ({ body, auth, deps, ctx }) => {
    const { modifiers = [], ...fields } = body;
    assertSelections(fields.minSelections ?? 0, fields.maxSelections ?? 1);
    const list = await deps.knex.transaction(async (trx) => {
      const created = await ModifierList.query(trx)
        .insert({ ...defined(fields), locationId: auth.locationId })
        .returning('*');
      await replaceModifiers(trx, auth.locationId, created.id, modifiers);
      return created;
    });
    ctx.status = 201;
    return (await modifierListViews(deps.knex, [list]))[0];
  },
});

const showModifierList = route({
  method: 'get',
  path: `${BASE}/modifier-lists/:id`,
  summary: 'Get a modifier list',
  tag: TAG,
  roles: CASHIER,
  params: idParams,
  responses: { 200: json('ModifierList', schemaRef('ModifierList')) },
  handler: async ({ params, auth, deps }) =>
    (await modifierListViews(deps.knex, [await findModifierList(deps.knex, auth.locationId, params.id)]))[0],
});

const changeModifierList = route({
  method: 'patch',
  path: `${BASE}/modifier-lists/:id`,
  summary: 'Change a modifier list (modifiers, when sent, replace the old ones)',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  body: modifierListPatch,
  responses: { 200: json('ModifierList', schemaRef('ModifierList')) },
  handler: async ({ params, body, auth, deps }) => {
    const { modifiers, ...fields } = body;
    const list = await deps.knex.transaction(async (trx) => {
      const existing = await ModifierList.query(trx)
        .findOne({ id: params.id, location_id: auth.locationId })
        .forUpdate();
      if (!existing) throw notFound('Modifier list');
      assertSelections(fields.minSelections ?? existing.minSelections, fields.maxSelections ?? existing.maxSelections);
      // Always touched, so updatedAt moves even when only the modifiers change.
      const [updated] = await ModifierList.query(trx).where('id', existing.id).patch(defined(fields)).returning('*');
      if (modifiers)
        await auditModifierPrices(trx, auth, existing.id, () =>
          replaceModifiers(trx, auth.locationId, existing.id, modifiers),
        );
      return updated!;
    });
    return (await modifierListViews(deps.knex, [list]))[0];
  },
});

const deleteModifierList = route({
  method: 'delete',
  path: `${BASE}/modifier-lists/:id`,
  summary: 'Delete a modifier list (and its modifiers; items stop offering it)',
  tag: TAG,
  roles: MANAGER,
  params: idParams,
  responses: { 204: 'deleted' },
  handler: async ({ params, auth, deps, ctx }) => {
    const n = await ModifierList.query(deps.knex).where({ id: params.id, location_id: auth.locationId }).delete();
    if (!n) throw notFound('Modifier list');
    ctx.status = 204;
    return undefined;
  },
});

function modifierListRoutes(): AnyRoute[] {
  return [listModifierLists, createModifierList, showModifierList, changeModifierList, deleteModifierList];
}

export function catalogRoutes(): AnyRoute[] {
  return [
    ...categoryRoutes(),
    ...itemRoutes(),
    ...modifierListRoutes(),
    route({
      method: 'get',
      path: `${BASE}/menu`,
      summary:
        'The sellable menu: available categories → items → modifier lists → modifiers, and available discount groups → their available discounts, in sortOrder then name',
      tag: TAG,
      roles: KITCHEN,
      responses: {
        200: json(
          '{categories: [{id, name, color, sortOrder, items: [{…, modifierLists: [{…, modifiers}]}]}], discountGroups: [{id, name, sortOrder, discounts}]}',
          schemaRef('Menu'),
        ),
      },
      handler: async ({ auth, deps }) => {
        const [menu, discountGroups] = await Promise.all([
          loadMenu(deps.knex, auth.locationId),
          loadDiscountMenu(deps.knex, auth.locationId),
        ]);
        return { ...menu, discountGroups };
      },
    }),
  ];
}
