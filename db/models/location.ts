import { Model, snakeCaseMappers } from 'objection';
import type { PricingScheduleEntry } from '../../core/pricing-schedule';

/** A shop. Its settings (currency, tax, card fee, auto-print) live on the same row. */
export class Location extends Model {
  static override tableName = 'locations';
  static override columnNameMappers = snakeCaseMappers();
  static override jsonAttributes = ['pricingSchedule'];

  declare id: string;
  declare organisationId: string;
  /** false once deactivated (DELETE /locations/:id): its orders and reports stay. */
  declare active: boolean;
  declare name: string;
  declare currency: string;
  declare timezone: string;
  /** Basis points. */
  declare taxRate: number;
  declare taxInclusive: boolean;
  /** Basis points. */
  declare serviceChargeRate: number;
  declare cardFeeEnabled: boolean;
  /** Basis points. */
  declare cardFeeRate: number;
  /** Minor units. */
  declare cardFeeMin: number;
  declare discountsEnabled: boolean;
  declare autoPrintReceipt: boolean;
  declare autoPrintKitchen: boolean;
  declare autoPrintOrderNumber: boolean;
  /** Discounts above this percent of the order need a manager's PIN (null: none do). */
  declare approvalDiscountPercent: number | null;
  /** Which price new cart lines use (see migration 090_01_event_pricing). */
  declare pricing: 'regular' | 'event';
  /** Entries overriding `pricing` at certain local times (migration 110_02, core/pricing-schedule.ts). */
  declare pricingSchedule: PricingScheduleEntry[];
  declare orderNumberCounter: number;
  declare loyaltyEnabled: boolean;
  /** Points per 100 minor units of net. */
  declare loyaltyPointsPer100: number;
  /** Minor units one point is worth. */
  declare loyaltyPointValue: number;
  declare createdAt: Date;
  declare updatedAt: Date;

  override $beforeUpdate(): void {
    this.updatedAt = new Date();
  }
}
