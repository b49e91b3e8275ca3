import type { Knex } from 'knex';
import { Location } from '../db/models/location';
import { UUID_RE } from './validation';
import type { PricingScheduleEntry } from '../core/pricing-schedule';

/** A location's settings as the API and the workflows see them. Rates are basis points; money is minor units. */
export interface Settings {
  locationId: string;
  name: string;
  currency: string;
  timezone: string;
  taxRate: number;
  taxInclusive: boolean;
  serviceChargeRate: number;
  cardFee: { enabled: boolean; rate: number; min: number };
  discountsEnabled: boolean;
  autoPrint: { receipt: boolean; kitchen: boolean; orderNumber: boolean };
  loyalty: { enabled: boolean; pointsPer100: number; pointValue: number };
  /** Discounts above this percent of the order need a manager's PIN (null: none do). */
  approvalDiscountPercent: number | null;
  /** Which price new cart lines use: the items' `price`, or their `eventPrice` (else `price`). */
  pricing: 'regular' | 'event';
  /** Local times at which another kind applies (core/pricing-schedule.ts); empty: always `pricing`. */
  pricingSchedule: PricingScheduleEntry[];
}

export function settingsOf(loc: Location): Settings {
  return {
    locationId: loc.id,
    name: loc.name,
    currency: loc.currency,
    timezone: loc.timezone,
    taxRate: loc.taxRate,
    taxInclusive: loc.taxInclusive,
    serviceChargeRate: loc.serviceChargeRate,
    cardFee: { enabled: loc.cardFeeEnabled, rate: loc.cardFeeRate, min: loc.cardFeeMin },
    discountsEnabled: loc.discountsEnabled,
    autoPrint: { receipt: loc.autoPrintReceipt, kitchen: loc.autoPrintKitchen, orderNumber: loc.autoPrintOrderNumber },
    loyalty: { enabled: loc.loyaltyEnabled, pointsPer100: loc.loyaltyPointsPer100, pointValue: loc.loyaltyPointValue },
    approvalDiscountPercent: loc.approvalDiscountPercent ?? null,
    pricing: loc.pricing ?? 'regular',
    pricingSchedule: loc.pricingSchedule ?? [],
  };
}

/** The location's settings, or undefined for an unknown location. One query; safe to call from activities. */
export async function loadSettings(knex: Knex, locationId: string): Promise<Settings | undefined> {
  if (!UUID_RE.test(locationId)) return undefined;
  const loc = await Location.query(knex).findById(locationId);
  return loc ? settingsOf(loc) : undefined;
}

/** The settings an order opens with: the location's, and whether it has an enabled receipt printer. */
export type OrderSettings = Settings & { receiptPrinter: boolean };

/**
 * The location's settings and whether it has an enabled receipt printer (an order opened without
 * one starts no receipt-printer jobs), or undefined for an unknown location. One query: every
 * open order reads it.
 */
export async function loadOrderSettings(knex: Knex, locationId: string): Promise<OrderSettings | undefined> {
  if (!UUID_RE.test(locationId)) return undefined;
  const receiptPrinter = knex('printers')
    .whereRaw('printers.location_id = locations.id')
    .where({ role: 'receipt', enabled: true })
    .select(knex.raw('1'));
  const loc = await Location.query(knex)
    .findById(locationId)
    .select('locations.*', knex.raw('exists(?) as receipt_printer', [receiptPrinter]));
  return loc
    ? { ...settingsOf(loc), receiptPrinter: (loc as Location & { receiptPrinter: boolean }).receiptPrinter }
    : undefined;
}
