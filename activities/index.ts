import type { ActivityDeps } from './deps';
import { systemActivities } from './system';
import { orderActivities } from './orders';
import { paymentActivities } from './payments/activities';
import { inventoryActivities } from './inventory';
import { refundActivities } from './refunds';
import { loyaltyActivities } from './loyalty';
import { stationActivities } from './printing/stations';
import { receiptEmailActivities } from './receipt-email';

/** All activities for the central task queue, bound to their dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...systemActivities(deps),
    ...orderActivities(deps),
    ...paymentActivities(deps),
    ...inventoryActivities(deps),
    ...refundActivities(deps),
    ...loyaltyActivities(deps),
    ...stationActivities(deps),
    ...receiptEmailActivities(deps),
  };
}
export type Activities = ReturnType<typeof createActivities>;
