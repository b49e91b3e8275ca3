import type { Knex } from 'knex';
import { UUID_RE } from './validation';
import { DateTime } from 'luxon';
import type { PriceKind } from '../core/order';
import { priceKindAt, type PricingScheduleEntry } from '../core/pricing-schedule';
import { prepared } from '../db/prepared';

/**
 * Read models of the catalog shared by the API (menu) and the checkout workflow's activities
 * (cart validation). Each function runs a fixed number of queries, whatever the catalog size.
 */

export interface MenuModifier {
  id: string;
  name: string;
  price: number;
  sortOrder: number;
}

export interface MenuModifierList {
  id: string;
  name: string;
  minSelections: number;
  maxSelections: number;
  sortOrder: number;
  modifiers: MenuModifier[];
}

export interface MenuItem {
  id: string;
  name: string;
  price: number;
  eventPrice: number | null;
  sku: string | null;
  barcode: string | null;
  trackStock: boolean;
  stockQuantity: number;
  lowStock: boolean;
  sortOrder: number;
  modifierLists: MenuModifierList[];
}

export interface MenuCategory {
  id: string;
  name: string;
  color: string | null;
  sortOrder: number;
  items: MenuItem[];
}

export interface Menu {
  categories: MenuCategory[];
}

/** What the checkout needs to validate and price a cart line. Unavailable lists and modifiers are included, flagged. */
export interface OrderableItem {
  id: string;
  name: string;
  /**
   * What a new line costs now: the event price while the location's pricing is `event` (its
   * setting, or a schedule entry covering now) and the item has one.
   */
  price: number;
  priceKind: 'regular' | 'event';
  /** False when the item or its category is unavailable. */
  available: boolean;
  trackStock: boolean;
  stockQuantity: number;
  modifierLists: Array<{
    id: string;
    name: string;
    minSelections: number;
    maxSelections: number;
    available: boolean;
    modifiers: Array<{ id: string; name: string; price: number; available: boolean }>;
  }>;
}

export const isLowStock = (i: { trackStock: boolean; stockQuantity: number; minStock: number }) =>
  i.trackStock && i.stockQuantity <= i.minStock;

/**
 * The sellable menu: available categories → their available, non-deleted items → the item's available
 * modifier lists (in the item's order) → available modifiers. Everything else in sortOrder, then name.
 * Four queries in parallel.
 */
export async function loadMenu(knex: Knex, locationId: string): Promise<Menu> {
  if (!UUID_RE.test(locationId)) return { categories: [] };
  const [categories, items, links, modifiers] = await menuRows(knex, locationId);
  const listsOf = modifierListsByItem(links, modifiers);
  const itemsOf = new Map<string, MenuItem[]>();
  for (const i of items) push(itemsOf, i.category_id, menuItem(i, listsOf.get(i.id) ?? []));
  return {
    categories: categories.map((c) => ({
      id: c.id,
      name: c.name,
      color: c.color,
      sortOrder: c.sort_order,
      items: itemsOf.get(c.id) ?? [],
    })),
  };
}

/** The menu's four queries, in parallel: categories, items, item ↔ modifier-list links, modifiers. */
function menuRows(knex: Knex, locationId: string) {
  return Promise.all([
    knex('categories')
      .where({ location_id: locationId, available: true })
      .orderBy(['sort_order', 'name', 'id'])
      .select('id', 'name', 'color', 'sort_order'),
    knex('items as i')
      .join('categories as c', 'c.id', 'i.category_id')
      .where({ 'i.location_id': locationId, 'i.available': true, 'c.available': true })
      .whereNull('i.deleted_at')
      .orderBy(['i.sort_order', 'i.name', 'i.id'])
      .select(
        'i.id',
        'i.category_id',
        'i.name',
        'i.price',
        'i.event_price',
        'i.sku',
        'i.barcode',
        'i.track_stock',
        'i.stock_quantity',
        'i.min_stock',
        'i.sort_order',
      ),
    knex('item_modifier_lists as iml')
      .join('modifier_lists as ml', 'ml.id', 'iml.modifier_list_id')
      .where({ 'iml.location_id': locationId, 'ml.available': true })
      .orderBy(['iml.sort_order', 'ml.sort_order', 'ml.name', 'ml.id'])
      .select('iml.item_id', 'ml.id', 'ml.name', 'ml.min_selections', 'ml.max_selections', 'ml.sort_order'),
    knex('modifiers')
      .where({ location_id: locationId, available: true })
      .orderBy(['sort_order', 'name', 'id'])
      .select('id', 'modifier_list_id', 'name', 'price', 'sort_order'),
  ]);
}

type MenuRows = Awaited<ReturnType<typeof menuRows>>;

/** Each item's modifier lists in the links' order, each list (shared between items) with its modifiers. */
function modifierListsByItem(links: MenuRows[2], modifiers: MenuRows[3]): Map<string, MenuModifierList[]> {
  const lists = new Map<string, MenuModifierList>();
  const listsOf = new Map<string, MenuModifierList[]>();
  for (const l of links) {
    let list = lists.get(l.id);
    if (!list) {
      list = {
        id: l.id,
        name: l.name,
        minSelections: l.min_selections,
        maxSelections: l.max_selections,
        sortOrder: l.sort_order,
        modifiers: [],
      };
      lists.set(l.id, list);
    }
    push(listsOf, l.item_id, list);
  }
  for (const m of modifiers) {
    lists.get(m.modifier_list_id)?.modifiers.push({ id: m.id, name: m.name, price: m.price, sortOrder: m.sort_order });
  }
  return listsOf;
}

function menuItem(i: MenuRows[1][number], modifierLists: MenuModifierList[]): MenuItem {
  return {
    id: i.id,
    name: i.name,
    price: i.price,
    eventPrice: i.event_price,
    sku: i.sku,
    barcode: i.barcode,
    trackStock: i.track_stock,
    stockQuantity: i.stock_quantity,
    lowStock: isLowStock({ trackStock: i.track_stock, stockQuantity: i.stock_quantity, minStock: i.min_stock }),
    sortOrder: i.sort_order,
    modifierLists,
  };
}

/**
 * One item of this location with all its modifier lists (in the item's order) and their modifiers,
 * unavailable ones included and flagged, so the caller can say why a line is refused.
 * Undefined when the item does not exist here or is deleted. Three queries in parallel.
 */
export async function loadItemForOrder(
  knex: Knex,
  locationId: string,
  itemId: string,
  now = new Date(),
): Promise<OrderableItem | undefined> {
  if (!UUID_RE.test(locationId) || !UUID_RE.test(itemId)) return undefined;
  // One round trip: this runs on every cart change, where each query competes for the pool.
  const { rows } = await prepared(
    knex.raw(
      `select i.id, i.name,
            i.price as "regularPrice", i.event_price as "eventPrice",
            l.pricing, l.pricing_schedule as "pricingSchedule", l.timezone,
            i.available and coalesce(c.available, true) as available,
            i.track_stock as "trackStock", i.stock_quantity as "stockQuantity",
            coalesce((
              select json_agg(json_build_object(
                       'id', ml.id, 'name', ml.name, 'minSelections', ml.min_selections,
                       'maxSelections', ml.max_selections, 'available', ml.available,
                       'modifiers', coalesce((
                         select json_agg(json_build_object('id', m.id, 'name', m.name, 'price', m.price, 'available', m.available)
                                         order by m.sort_order, m.name, m.id)
                         from modifiers m where m.modifier_list_id = ml.id and m.location_id = i.location_id), '[]'::json))
                     order by iml.sort_order, ml.sort_order, ml.name, ml.id)
              from item_modifier_lists iml join modifier_lists ml on ml.id = iml.modifier_list_id
              where iml.item_id = i.id and iml.location_id = i.location_id), '[]'::json) as "modifierLists"
       from items i join locations l on l.id = i.location_id left join categories c on c.id = i.category_id
      where i.id = ? and i.location_id = ? and i.deleted_at is null`,
      [itemId, locationId],
    ),
  );
  if (!rows[0]) return undefined;
  const { regularPrice, eventPrice, pricing, pricingSchedule, timezone, ...item } = rows[0];
  const event = eventPrice !== null && priceKindNow(pricing, pricingSchedule, timezone, now) === 'event';
  return { ...item, price: event ? eventPrice : regularPrice, priceKind: event ? 'event' : 'regular' };
}

/**
 * The price kind in force at `now` in the location's local time: its schedule's, else its setting.
 * Decided here, when the API resolves a line, and passed to the order workflow with the line's
 * price (as the setting always was): a workflow must not read clocks or settings to price a line,
 * so the kind is a fact of the Update, and replays and retries of it price the line the same.
 */
export function priceKindNow(
  setting: PriceKind,
  schedule: readonly PricingScheduleEntry[],
  timezone: string,
  now: Date,
): PriceKind {
  const local = DateTime.fromJSDate(now, { zone: timezone });
  return priceKindAt(setting, schedule, { weekday: local.weekday, minutes: local.hour * 60 + local.minute });
}

export interface MenuDiscountGroup {
  id: string;
  name: string;
  sortOrder: number;
  discounts: { id: string; name: string; type: 'percent' | 'amount'; value: number; sortOrder: number }[];
}

/**
 * The available discount groups with their available discounts, each in sortOrder then name.
 * One query (groups left-joined to their discounts), whatever the number of discounts.
 */
export async function loadDiscountMenu(knex: Knex, locationId: string): Promise<MenuDiscountGroup[]> {
  if (!UUID_RE.test(locationId)) return [];
  const rows = await knex('discount_groups as g')
    .leftJoin('discounts as d', (j) => j.on('d.group_id', 'g.id').andOn('d.available', knex.raw('true')))
    .where({ 'g.location_id': locationId, 'g.available': true })
    .orderBy(['g.sort_order', 'g.name', 'g.id', 'd.sort_order', 'd.name', 'd.id'])
    .select(
      'g.id as groupId',
      'g.name as groupName',
      'g.sort_order as groupSortOrder',
      'd.id',
      'd.name',
      'd.type',
      'd.value',
      'd.sort_order as sortOrder',
    );
  const groups = new Map<string, MenuDiscountGroup>();
  for (const r of rows) {
    let group = groups.get(r.groupId);
    if (!group) {
      group = { id: r.groupId, name: r.groupName, sortOrder: r.groupSortOrder, discounts: [] };
      groups.set(r.groupId, group);
    }
    if (r.id) group.discounts.push({ id: r.id, name: r.name, type: r.type, value: r.value, sortOrder: r.sortOrder });
  }
  return [...groups.values()];
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
