/** Custom search attributes (registered by temporal-dev.yml) that let support staff find any order or stock count. */
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';

export const SA = {
  orderNumber: defineSearchAttributeKey('OrderNumber', SearchAttributeType.INT),
  orderStatus: defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD),
  kitchenStatus: defineSearchAttributeKey('KitchenStatus', SearchAttributeType.KEYWORD),
  paymentMethod: defineSearchAttributeKey('PaymentMethod', SearchAttributeType.KEYWORD_LIST),
  paymentStatus: defineSearchAttributeKey('PaymentStatus', SearchAttributeType.KEYWORD),
  locationId: defineSearchAttributeKey('LocationId', SearchAttributeType.KEYWORD),
  staffId: defineSearchAttributeKey('StaffId', SearchAttributeType.KEYWORD),
  orderTotal: defineSearchAttributeKey('OrderTotal', SearchAttributeType.INT),
  /** open, completing, completed, cancelling, cancelled, rejected: support finds open counts with `StockCountStatus = 'open'`. */
  stockCountStatus: defineSearchAttributeKey('StockCountStatus', SearchAttributeType.KEYWORD),
  refundStatus: defineSearchAttributeKey('RefundStatus', SearchAttributeType.KEYWORD),
};
