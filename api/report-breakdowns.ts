import type { Knex } from 'knex';

/**
 * What sold, per local day: by category, by item and by local hour (the daily/range reports'
 * `byCategory`, `topItems`, `byHour`, and the item report).
 *
 * A line's **net** is its total less its share of the order's discount, shared over the order's
 * lines in proportion to their totals by largest remainder with ties to the earlier line — the
 * same split as `lineShares` in core/pricing.ts (refunds use it) — so the lines' nets of an order
 * add up exactly to the order's net (subtotal − discount), and every breakdown adds up to `net`.
 * An item's category is its current one (lines keep no category); lines of deleted items or items
 * without a category are grouped under `categoryId: null, name: null`.
 */

export interface CategoryTotals {
  categoryId: string | null;
  name: string | null;
  quantity: number;
  net: number;
}
export interface ItemTotals {
  itemId: string | null;
  name: string;
  quantity: number;
  net: number;
}
export interface HourTotals {
  /** Local hour 0..23. */
  hour: number;
  orders: number;
  net: number;
}
export interface Breakdowns {
  byCategory: CategoryTotals[];
  topItems: ItemTotals[];
  byHour: HourTotals[];
}

/** How many items `topItems` lists (by net, then quantity). */
export const TOP_ITEMS = 10;

/** One row per (local day, item) of the counted orders: quantity and net. */
export interface ItemDayRow {
  day: string;
  itemId: string | null;
  name: string;
  categoryId: string | null;
  categoryName: string | null;
  quantity: number;
  net: number;
}

const n = (v: unknown): number => Number(v ?? 0);

/**
 * The counted orders' lines with their net (see the top of this file). `counted` selects the
 * counted orders with columns id, subtotal, discount and day, aliased `c`. Most orders have no
 * discount: their lines' net is their total, and only discounted orders pay for the sharing.
 */
export function linesWithNet(trx: Knex | Knex.Transaction, counted: () => Knex.QueryBuilder): Knex.QueryBuilder {
  // Lateral with offset 0: one index lookup per counted order, never a scan of every line ever sold.
  const lines = 'cross join lateral (select * from order_lines where order_lines.order_id = c.id offset 0) as l';
  const undiscounted = trx
    .from(counted())
    .joinRaw(lines)
    .where('c.discount', 0)
    .select('c.day', 'l.item_id', 'l.name', 'l.quantity', 'l.total as net');
  const floorShare = '(c.discount::bigint * l.total) / c.subtotal';
  const shared = trx
    .from(counted())
    .joinRaw(lines)
    .where('c.discount', '>', 0) // a discount never exceeds the subtotal, so subtotal > 0 here
    .select(
      'c.day',
      'l.item_id',
      'l.name',
      'l.quantity',
      'l.total',
      trx.raw(`${floorShare} as floor_share`),
      trx.raw(
        `row_number() over (partition by c.id order by (c.discount::bigint * l.total - (${floorShare}) * c.subtotal) desc, l.position) as rank`,
      ),
      trx.raw(`c.discount - sum(${floorShare}) over (partition by c.id) as leftover`),
    )
    .as('s');
  const discounted = trx
    .from(shared)
    .select(
      's.day',
      's.item_id',
      's.name',
      's.quantity',
      trx.raw('s.total - s.floor_share - case when s.rank <= s.leftover then 1 else 0 end as net'),
    );
  return trx.queryBuilder().unionAll([undiscounted, discounted], true);
}

/** Quantity and net per local day and item, without names (a rollup keeps these: names may change). */
export interface ItemKeyRow {
  day: string;
  itemId: string | null;
  /** The lines' name (the largest): the row's name when the item is gone or the line has none. */
  lineName: string;
  quantity: number;
  net: number;
}

/** Quantity and net per local day and item of the counted orders (lines without an item: per name). */
export async function itemKeyRows(
  trx: Knex | Knex.Transaction,
  counted: () => Knex.QueryBuilder,
): Promise<ItemKeyRow[]> {
  const rows = await trx
    .from(linesWithNet(trx, counted).as('ln'))
    .groupBy('ln.day', 'ln.item_id', trx.raw('case when ln.item_id is null then ln.name end'))
    .select(
      'ln.day',
      'ln.item_id',
      trx.raw('max(ln.name) as line_name'),
      trx.raw('sum(ln.quantity) as quantity'),
      trx.raw('sum(ln.net) as net'),
    );
  return rows.map((r: any) => ({
    day: r.day,
    itemId: r.item_id ?? null,
    lineName: r.line_name,
    quantity: n(r.quantity),
    net: n(r.net),
  }));
}

/**
 * The rows with their item's current name and category (the category's current name), sorted by
 * day and item so that ties in the breakdowns always fall the same way.
 */
export async function nameItemRows(trx: Knex | Knex.Transaction, rows: ItemKeyRow[]): Promise<ItemDayRow[]> {
  const ids = [...new Set(rows.map((r) => r.itemId).filter((id): id is string => id !== null))];
  const items = new Map<string, { name: string; category_id: string | null; category_name: string | null }>();
  if (ids.length)
    for (const r of await trx('items as i')
      .leftJoin('categories as cat', 'cat.id', 'i.category_id')
      .whereIn('i.id', ids)
      .select('i.id', 'i.name', 'i.category_id', 'cat.name as category_name'))
      items.set(r.id, r);
  const key = (r: ItemKeyRow) => `${r.day} ${r.itemId ?? ''} ${r.itemId ? '' : r.lineName}`;
  return [...rows]
    .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
    .map(({ day, itemId, lineName, quantity, net }) => {
      const item = itemId ? items.get(itemId) : undefined;
      return {
        day,
        itemId,
        name: item?.name ?? lineName,
        categoryId: item?.category_id ?? null,
        categoryName: item?.category_name ?? null,
        quantity,
        net,
      };
    });
}

/** Quantity and net per local day and item (with the item's current category) of the counted orders. */
export async function itemDayRows(
  trx: Knex | Knex.Transaction,
  counted: () => Knex.QueryBuilder,
): Promise<ItemDayRow[]> {
  return nameItemRows(trx, await itemKeyRows(trx, counted));
}

/** Orders and net per local day and local hour of closing. `counted` also selects `hour`. */
export async function hourDayRows(
  trx: Knex | Knex.Transaction,
  counted: () => Knex.QueryBuilder,
): Promise<(HourTotals & { day: string })[]> {
  const rows = await trx
    .from(counted())
    .groupBy('c.day', 'c.hour')
    .select('c.day', 'c.hour', trx.raw('count(*) as orders'), trx.raw('sum(c.subtotal - c.discount) as net'));
  return rows.map((r: any) => ({ day: r.day, hour: n(r.hour), orders: n(r.orders), net: n(r.net) }));
}

/** Adds rows with the same key together (numeric fields summed), keeping the first row's other fields. */
export function mergeBy<T extends object>(rows: T[], key: (r: T) => string, fields: (keyof T)[]): T[] {
  const acc = new Map<string, T>();
  for (const r of rows) {
    const k = key(r);
    const prev = acc.get(k);
    if (!prev) acc.set(k, { ...r });
    else for (const f of fields) (prev[f] as number) += r[f] as number;
  }
  return [...acc.values()];
}

const byNet = <T extends { net: number; quantity: number; name: string | null }>(a: T, b: T) =>
  b.net - a.net || b.quantity - a.quantity || (a.name ?? '').localeCompare(b.name ?? '');

const itemKey = (r: { itemId: string | null; name: string }) => r.itemId ?? `name:${r.name}`;

/** Every item sold, merged over the given rows, by net descending (then quantity, name). */
export function itemTotals(rows: ItemTotals[]): ItemTotals[] {
  return mergeBy(
    rows.map(({ itemId, name, quantity, net }) => ({ itemId, name, quantity, net })),
    itemKey,
    ['quantity', 'net'],
  ).sort(byNet);
}

/** The breakdowns of a set of item rows and hour rows (one day's, or a whole range's). */
export function breakdownsOf(items: ItemDayRow[], hours: HourTotals[]): Breakdowns {
  const byCategory = mergeBy(
    items.map((r) => ({ categoryId: r.categoryId, name: r.categoryName, quantity: r.quantity, net: r.net })),
    (r) => r.categoryId ?? '',
    ['quantity', 'net'],
  ).sort(byNet);
  return {
    byCategory,
    topItems: itemTotals(items).slice(0, TOP_ITEMS),
    byHour: mergeBy(
      hours.map(({ hour, orders, net }) => ({ hour, orders, net })),
      (r) => String(r.hour),
      ['orders', 'net'],
    ).sort((a, b) => a.hour - b.hour),
  };
}
