import { Model, snakeCaseMappers } from 'objection';

/**
 * Every stock change is a movement, written with the item's quantity in one transaction
 * (activities/inventory.ts applyMovement); `idempotencyKey` makes a retried sale, cancel, count or
 * adjustment apply once. `seq` orders them strictly (pagination).
 */
export class InventoryMovement extends Model {
  static override tableName = 'inventory_movements';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare itemId: string;
  declare delta: number;
  declare seq: string;
  declare reason: 'sale' | 'refund' | 'adjustment' | 'receive' | 'count';
  declare quantityAfter: number | null;
  /** The order, refund or stock count that caused it. */
  declare reference: string | null;
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
  declare completedBy: string | null;
  declare cancelledAt: Date | null;
  declare cancelReason: string | null;
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
  declare name: string | null;
  declare cost: number | null;
  declare expected: number;
  declare counted: number | null;
  /** The item's stock when it was counted (read under its row lock). */
  declare systemAtCount: number | null;
  declare countedAt: Date | null;
  declare countedBy: string | null;
  declare countSeq: number;
  declare appliedDelta: number | null;
  /** True while the count is open: an item is in at most one open count. */
  declare active: boolean;
}

/** One active alert per item while its stock is at or below its minimum. */
export class LowStockAlertModel extends Model {
  static override tableName = 'low_stock_alerts';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare itemId: string;
  declare status: 'active' | 'resolved';
  declare quantity: number;
  declare minStock: number;
  declare createdAt: Date;
  declare resolvedAt: Date | null;
  declare resolvedBy: string | null;
  declare resolution: 'manual' | 'restocked' | null;
}
