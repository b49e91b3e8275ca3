import type { ActivityDeps } from './deps';
import { redeemPoints, type RedeemRequest } from '../db/loyalty';

export function loyaltyActivities({ knex }: ActivityDeps) {
  return {
    /** Debits a points payment (idempotent per payment); false when the customer has too few points. */
    async redeemLoyaltyPoints(req: RedeemRequest): Promise<boolean> {
      return redeemPoints(knex, req);
    },
  };
}

export type LoyaltyActivities = ReturnType<typeof loyaltyActivities>;
