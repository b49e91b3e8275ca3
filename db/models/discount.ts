import { Model, snakeCaseMappers } from 'objection';

export type DiscountType = 'percent' | 'amount';

export class DiscountGroup extends Model {
  static override tableName = 'discount_groups';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare name: string;
  /** False: every discount of the group is refused on orders and left out of the menu. */
  declare available: boolean;
  declare sortOrder: number;
  declare createdAt: Date;
  declare updatedAt: Date;

  override $beforeUpdate(): void {
    this.updatedAt = new Date();
  }
}

export class Discount extends Model {
  static override tableName = 'discounts';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare groupId: string | null;
  declare name: string;
  declare type: DiscountType;
  /** percent: basis points (1000 = 10%); amount: minor units. */
  declare value: number;
  declare available: boolean;
  declare sortOrder: number;
  declare createdAt: Date;
  declare updatedAt: Date;

  override $beforeUpdate(): void {
    this.updatedAt = new Date();
  }
}
