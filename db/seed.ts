import type { Knex } from 'knex';
import { randomInt } from 'node:crypto';
import { hashPin, pinLookup } from './pins';

export const DEMO_STAFF = [
  { name: 'Owner', role: 'owner', pin: '135790', hourly_rate: 0 },
  { name: 'Admin', role: 'admin', pin: '1234', hourly_rate: 0 },
  { name: 'Manager', role: 'manager', pin: '2345', hourly_rate: 2200 },
  { name: 'Cashier', role: 'cashier', pin: '3456', hourly_rate: 1500 },
  { name: 'Kitchen', role: 'kitchen', pin: '4567', hourly_rate: 1600 },
] as const;

/** The Nairobi demo location's staff: PINs unlike the café's, so a PIN alone finds its location. */
export const NAIROBI_STAFF = [
  { name: 'Admin Nairobi', role: 'admin', pin: '98765', hourly_rate: 0 },
  { name: 'Manager Nairobi', role: 'manager', pin: '8765', hourly_rate: 30000 },
  { name: 'Cashier Nairobi', role: 'cashier', pin: '7654', hourly_rate: 20000 },
  { name: 'Kitchen Nairobi', role: 'kitchen', pin: '6543', hourly_rate: 20000 },
] as const;

export const NAIROBI_DEMO_NAME = 'Demo Kibanda (Nairobi)';
export const DEMO_ORGANISATION_NAME = 'Demo organisation';

/** Every demo location with its public PINs, as the start banner lists them. */
export const DEMO_LOCATIONS = [
  { name: 'Demo Café', staff: DEMO_STAFF },
  { name: NAIROBI_DEMO_NAME, staff: NAIROBI_STAFF },
] as const;

type DemoStaff = (typeof DEMO_STAFF)[number] | (typeof NAIROBI_STAFF)[number];

async function insertStaff(
  trx: Knex.Transaction,
  secret: string,
  locationId: string,
  list: readonly DemoStaff[],
): Promise<Record<string, string>> {
  const staff: Record<string, string> = {};
  for (const s of list) {
    const [row] = await trx('staff')
      .insert({
        location_id: locationId,
        name: s.name,
        role: s.role,
        hourly_rate: s.hourly_rate,
        pin_lookup: pinLookup(secret, s.pin),
        pin_hash: await hashPin(s.pin),
      })
      .returning('id');
    staff[s.name] = row.id;
  }
  return staff;
}

/**
 * A second demo location where M-Pesa and Airtel work out of the box: KES, Nairobi time, VAT 16 %
 * included in whole-shilling prices (M-Pesa takes whole shillings only), its own staff.
 */
export async function seedNairobiDemo(
  knex: Knex,
  secret: string,
): Promise<{ locationId: string; staff: Record<string, string>; items: Record<string, string> }> {
  return knex.transaction(async (trx) => {
    // The café's organisation: the demo Owner runs both shops.
    const org = await trx('organisations').orderBy('created_at').first('id');
    const [loc] = await trx('locations')
      .insert({
        organisation_id: org?.id,
        name: NAIROBI_DEMO_NAME,
        currency: 'KES',
        timezone: 'Africa/Nairobi',
        tax_rate: 1600,
        tax_inclusive: true,
        auto_print_kitchen: false,
      })
      .returning('id');
    const locationId: string = loc.id;
    const staff = await insertStaff(trx, secret, locationId, NAIROBI_STAFF);
    const [cat] = await trx('categories')
      .insert({ location_id: locationId, name: 'Chai & snacks', color: '#8b4513', sort_order: 0 })
      .returning('id');
    const items: Record<string, string> = {};
    for (const [i, [name, price]] of (
      [
        ['Chai', 5000],
        ['Mandazi', 3000],
        ['Samosa', 6000],
        ['Soda', 8000],
      ] as const
    ).entries()) {
      const [row] = await trx('items')
        .insert({
          location_id: locationId,
          category_id: cat.id,
          name,
          price,
          sort_order: i,
          cost: Math.round(price * 0.3),
        })
        .returning('id');
      items[name] = row.id;
    }
    return { locationId, staff, items };
  });
}

export interface SeededShop {
  locationId: string;
  staff: Record<string, string>;
  items: Record<string, string>;
  categories: Record<string, string>;
  modifierLists: Record<string, string>;
  modifiers: Record<string, string>;
  discounts: Record<string, string>;
}

const DEMO_CATEGORIES = [
  { name: 'Coffee', color: '#6f4e37' },
  { name: 'Food', color: '#d2691e' },
  { name: 'Drinks', color: '#1e90ff' },
];

const DEMO_MODIFIER_LISTS = [
  {
    name: 'Milk',
    min: 0,
    max: 1,
    mods: [
      ['Oat milk', 60],
      ['Almond milk', 60],
    ],
  },
  {
    name: 'Size',
    min: 1,
    max: 1,
    mods: [
      ['Regular', 0],
      ['Large', 80],
    ],
  },
  {
    name: 'Burger extras',
    min: 0,
    max: 3,
    mods: [
      ['Extra cheese', 100],
      ['Bacon', 150],
      ['No onions', 0],
    ],
  },
] as const;

const DEMO_MENU: Array<{
  name: string;
  cat: string;
  price: number;
  lists: string[];
  barcode: string | null;
  track: boolean;
  stock?: number;
  min?: number;
}> = [
  { name: 'Espresso', cat: 'Coffee', price: 300, lists: ['Size'], barcode: null, track: false },
  { name: 'Latte', cat: 'Coffee', price: 450, lists: ['Size', 'Milk'], barcode: null, track: false },
  { name: 'Burger', cat: 'Food', price: 1150, lists: ['Burger extras'], barcode: null, track: false },
  {
    name: 'Croissant',
    cat: 'Food',
    price: 325,
    lists: [],
    barcode: '4006381333931',
    track: true,
    stock: 24,
    min: 5,
  },
  {
    name: 'Sparkling water',
    cat: 'Drinks',
    price: 250,
    lists: [],
    barcode: '5449000000996',
    track: true,
    stock: 48,
    min: 12,
  },
];

const DEMO_DISCOUNTS = [
  { name: 'Staff 10%', type: 'percent', value: 1000 },
  { name: '$2 off', type: 'amount', value: 200 },
];

/** Seeds the demo shop ("Demo Café") unless a location exists already. Returns ids by name. */
export async function seedDemoShop(
  knex: Knex,
  secret: string,
  opts: { name?: string; force?: boolean } = {},
): Promise<SeededShop | undefined> {
  if (!opts.force) {
    const existing = await knex('locations').first('id');
    if (existing) return undefined;
  }
  return knex.transaction(async (trx) => {
    const [org] = await trx('organisations').insert({ name: DEMO_ORGANISATION_NAME }).returning('id');
    const [loc] = await trx('locations')
      .insert({
        organisation_id: org.id,
        name: opts.name ?? 'Demo Café',
        currency: 'USD',
        timezone: 'America/New_York',
        tax_rate: 800,
        auto_print_kitchen: true,
      })
      .returning('id');
    const locationId: string = loc.id;
    const staff = await insertStaff(trx, secret, locationId, DEMO_STAFF);
    const categories = await insertCategories(trx, locationId);
    const { modifierLists, modifiers } = await insertModifierLists(trx, locationId);
    const items = await insertMenuItems(trx, locationId, categories, modifierLists);
    const discounts = await insertDiscounts(trx, locationId);
    return { locationId, staff, items, categories, modifierLists, modifiers, discounts };
  });
}

async function insertCategories(trx: Knex.Transaction, locationId: string): Promise<Record<string, string>> {
  const categories: Record<string, string> = {};
  for (const [i, c] of DEMO_CATEGORIES.entries()) {
    const [row] = await trx('categories')
      .insert({ location_id: locationId, name: c.name, color: c.color, sort_order: i })
      .returning('id');
    categories[c.name] = row.id;
  }
  return categories;
}

async function insertModifierLists(
  trx: Knex.Transaction,
  locationId: string,
): Promise<{ modifierLists: Record<string, string>; modifiers: Record<string, string> }> {
  const modifierLists: Record<string, string> = {};
  const modifiers: Record<string, string> = {};
  for (const [i, l] of DEMO_MODIFIER_LISTS.entries()) {
    const [row] = await trx('modifier_lists')
      .insert({ location_id: locationId, name: l.name, min_selections: l.min, max_selections: l.max, sort_order: i })
      .returning('id');
    modifierLists[l.name] = row.id;
    for (const [j, [name, price]] of l.mods.entries()) {
      const [m] = await trx('modifiers')
        .insert({ location_id: locationId, modifier_list_id: row.id, name, price, sort_order: j })
        .returning('id');
      modifiers[name] = m.id;
    }
  }
  return { modifierLists, modifiers };
}

/** The menu's items (cost 30 % of the price) and each item's modifier lists in order. */
async function insertMenuItems(
  trx: Knex.Transaction,
  locationId: string,
  categories: Record<string, string>,
  modifierLists: Record<string, string>,
): Promise<Record<string, string>> {
  const items: Record<string, string> = {};
  for (const [i, it] of DEMO_MENU.entries()) {
    const [row] = await trx('items')
      .insert({
        location_id: locationId,
        category_id: categories[it.cat],
        name: it.name,
        price: it.price,
        barcode: it.barcode,
        track_stock: it.track,
        stock_quantity: it.stock ?? 0,
        min_stock: it.min ?? 0,
        sort_order: i,
        cost: Math.round(it.price * 0.3),
      })
      .returning('id');
    items[it.name] = row.id;
    for (const [j, l] of it.lists.entries()) {
      await trx('item_modifier_lists').insert({
        location_id: locationId,
        item_id: row.id,
        modifier_list_id: modifierLists[l],
        sort_order: j,
      });
    }
  }
  return items;
}

async function insertDiscounts(trx: Knex.Transaction, locationId: string): Promise<Record<string, string>> {
  const discounts: Record<string, string> = {};
  const [group] = await trx('discount_groups')
    .insert({ location_id: locationId, name: 'Staff & promos' })
    .returning('id');
  for (const [i, d] of DEMO_DISCOUNTS.entries()) {
    const [row] = await trx('discounts')
      .insert({ location_id: locationId, group_id: group.id, ...d, sort_order: i })
      .returning('id');
    discounts[d.name] = row.id;
  }
  return discounts;
}

export class FirstAdminError extends Error {}

/**
 * The first admin of a database without staff (production: no demo shop). Creates the location
 * when there is none, and a random 8-digit PIN that is returned once and stored only hashed.
 * Refuses when any staff member exists: from then on staff are managed through the API.
 */
export async function createFirstAdmin(
  knex: Knex,
  secret: string,
  opts: { name: string; locationName?: string },
): Promise<{ locationId: string; staffId: string; pin: string }> {
  return knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', ['tillflow:first-admin']);
    if (await trx('staff').first('id'))
      throw new FirstAdminError(
        'This database already has staff: add more through the API (POST /api/v1/staff) as an admin.',
      );
    const existing = await trx('locations').orderBy('created_at').first('id');
    const locationId: string =
      existing?.id ??
      (
        await trx('locations')
          .insert({ name: opts.locationName ?? 'My shop' })
          .returning('id')
      )[0].id;
    const pin = String(randomInt(10_000_000, 100_000_000));
    const [row] = await trx('staff')
      .insert({
        location_id: locationId,
        name: opts.name,
        role: 'admin',
        pin_lookup: pinLookup(secret, pin),
        pin_hash: await hashPin(pin),
      })
      .returning('id');
    await trx('audit_log').insert({
      location_id: locationId,
      staff_id: row.id,
      action: 'staff.first_admin',
      subject: row.id,
    });
    return { locationId, staffId: row.id, pin };
  });
}
