import { Model, snakeCaseMappers } from 'objection';
import type { OrderSnapshot } from '../../core/order';

/**
 * Persisted orders. While an order is open its checkout workflow is the source of truth and this
 * row is the live projection (snapshot + totals); lines, discounts and payments are written in
 * one transaction when it closes. Money columns are integer minor units.
 */
export class Order extends Model {
  static override tableName = 'orders';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare orderNumber: number | null;
  declare status: OrderSnapshot['status'];
  declare kitchenStatus: OrderSnapshot['kitchenStatus'];
  declare type: OrderSnapshot['type'];
  declare tableLabel: string | null;
  declare customerName: string | null;
  declare staffId: string | null;
  declare terminalId: string | null;
  declare currency: string;
  declare subtotal: number;
  declare discount: number;
  declare serviceCharge: number;
  declare tax: number;
  declare cardFee: number;
  declare tip: number;
  declare total: number;
  declare paid: number;
  declare refunded: number;
  declare version: number;
  declare snapshot: OrderSnapshot;
  declare cancelReason: string | null;
  declare createdAt: Date;
  declare updatedAt: Date;
  declare closedAt: Date | null;
  declare persistedAt: Date | null;

  declare lines?: OrderLine[];
  declare payments?: Payment[];
  declare discounts?: OrderDiscount[];

  static override get relationMappings() {
    return {
      lines: {
        relation: Model.HasManyRelation,
        modelClass: OrderLine,
        join: { from: 'orders.id', to: 'order_lines.order_id' },
      },
      payments: {
        relation: Model.HasManyRelation,
        modelClass: Payment,
        join: { from: 'orders.id', to: 'payments.order_id' },
      },
      discounts: {
        relation: Model.HasManyRelation,
        modelClass: OrderDiscount,
        join: { from: 'orders.id', to: 'order_discounts.order_id' },
      },
    };
  }
}

export class OrderLine extends Model {
  static override tableName = 'order_lines';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare orderId: string;
  declare itemId: string | null;
  declare name: string;
  declare quantity: number;
  declare unitPrice: number;
  declare total: number;
  declare note: string | null;
  declare position: number;
  declare modifiers?: OrderLineModifier[];

  static override get relationMappings() {
    return {
      modifiers: {
        relation: Model.HasManyRelation,
        modelClass: OrderLineModifier,
        join: { from: 'order_lines.id', to: 'order_line_modifiers.order_line_id' },
      },
    };
  }
}

export class OrderLineModifier extends Model {
  static override tableName = 'order_line_modifiers';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare orderLineId: string;
  declare modifierId: string | null;
  declare name: string;
  declare price: number;
}

export class OrderDiscount extends Model {
  static override tableName = 'order_discounts';
  static override idColumn = ['order_id', 'discount_id'];
  static override columnNameMappers = snakeCaseMappers();

  declare locationId: string;
  declare orderId: string;
  declare discountId: string;
  declare name: string;
  declare type: string;
  declare value: number;
  declare amount: number;
}

export class Payment extends Model {
  static override tableName = 'payments';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare orderId: string;
  declare seq: number;
  declare method: 'cash' | 'card' | 'qr' | 'mpesa' | 'airtel';
  declare provider: string | null;
  declare status: 'pending' | 'succeeded' | 'failed' | 'cancelled' | 'refunded';
  declare amount: number;
  declare tip: number;
  declare fee: number;
  declare tendered: number | null;
  declare change: number | null;
  declare reference: string | null;
  declare receipt: string | null;
  declare failureReason: string | null;
  declare workflowId: string | null;
  declare callbackToken: string | null;
  declare sandbox: boolean;
  declare createdAt: Date;
  declare settledAt: Date | null;
}
