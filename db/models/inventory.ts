import { Model, snakeCaseMappers } from 'objection';

/** Every stock change is a movement; `idempotencyKey` makes a retried sale, cancel or count apply once. */
export class InventoryMovement extends Model {
  static override tableName = 'inventory_movements';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare itemId: string;
  declare delta: number;
  declare reason: 'sale' | 'cancel' | 'adjustment' | 'count' | 'refund';
  declare orderId: string | null;
  declare stockCountId: string | null;
  declare staffId: string | null;
  declare note: string | null;
  declare idempotencyKey: string | null;
  declare createdAt: Date;
}

export class StockCount extends Model {
  static override tableName = 'stock_counts';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare categoryId: string | null;
  declare status: 'open' | 'completed' | 'cancelled';
  declare staffId: string | null;
  declare createdAt: Date;
  declare completedAt: Date | null;
  declare lines?: StockCountLine[];

  static override get relationMappings() {
    return {
      lines: { relation: Model.HasManyRelation, modelClass: StockCountLine, join: { from: 'stock_counts.id', to: 'stock_count_lines.stock_count_id' } },
    };
  }
}

export class StockCountLine extends Model {
  static override tableName = 'stock_count_lines';
  static override idColumn = ['stock_count_id', 'item_id'];
  static override columnNameMappers = snakeCaseMappers();

  declare locationId: string;
  declare stockCountId: string;
  declare itemId: string;
  declare expected: number;
  declare counted: number | null;
}
