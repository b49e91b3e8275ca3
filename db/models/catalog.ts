import { Model, snakeCaseMappers } from 'objection';

/** Catalog rows. Properties are camelCase; columns are snake_case (mapped by objection). */

export class Category extends Model {
  static override tableName = 'categories';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare name: string;
  declare sortOrder: number;
  declare available: boolean;
  declare color: string | null;
  declare createdAt: Date;
  declare updatedAt: Date;

  override $beforeUpdate(): void {
    this.updatedAt = new Date();
  }
}

export class Item extends Model {
  static override tableName = 'items';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare categoryId: string | null;
  declare name: string;
  /** Minor units. */
  declare price: number;
  declare eventPrice: number | null;
  declare sku: string | null;
  declare barcode: string | null;
  declare cost: number | null;
  declare trackStock: boolean;
  declare stockQuantity: number;
  declare minStock: number;
  declare sortOrder: number;
  declare available: boolean;
  /** Items are soft-deleted: order history keeps pointing at them. */
  declare deletedAt: Date | null;
  declare createdAt: Date;
  declare updatedAt: Date;

  override $beforeUpdate(): void {
    this.updatedAt = new Date();
  }
}

export class ModifierList extends Model {
  static override tableName = 'modifier_lists';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare name: string;
  declare minSelections: number;
  declare maxSelections: number;
  declare sortOrder: number;
  declare available: boolean;
  declare createdAt: Date;
  declare updatedAt: Date;

  override $beforeUpdate(): void {
    this.updatedAt = new Date();
  }
}

export class Modifier extends Model {
  static override tableName = 'modifiers';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare modifierListId: string;
  declare name: string;
  /** Minor units. */
  declare price: number;
  declare sortOrder: number;
  declare available: boolean;
}

/** Which modifier lists an item offers, in the item's order (sort_order). */
export class ItemModifierList extends Model {
  static override tableName = 'item_modifier_lists';
  static override idColumn = ['item_id', 'modifier_list_id'];
  static override columnNameMappers = snakeCaseMappers();

  declare locationId: string;
  declare itemId: string;
  declare modifierListId: string;
  declare sortOrder: number;
}
