import type { Knex } from 'knex';
import * as foundation from './001_foundation';
import * as paymentCallbacks from './002_payment_callbacks';
import * as authSecurity from './003_auth_security';
import * as inventory from './004_inventory';
import * as devices from './005_devices';
import * as refunds from './006_refunds';
import * as sessionExpiryNotify from './020_session_expiry_notify';
import * as mpesaReversalStatus from './010_mpesa_reversal_status';
import * as webhookReceipts from './040_webhook_receipts';
import * as floor from './050_floor';
import * as kitchenStations from './060_01_kitchen_stations';
import * as item86 from './060_02_item_86';
import * as approvals from './060_03_approvals';
import * as cashDrawers from './060_04_cash_drawers';
import * as receipts from './070_receipts';
import * as organisations from './080_01_organisations';
import * as eventPricing from './090_01_event_pricing';
import * as discountGroups from './090_02_discount_groups';
import * as refreshTokens from './090_03_refresh_tokens';
import * as refundResultReceipts from './100_refund_result_receipts';
import * as reportRollups from './110_01_report_rollups';
import * as pricingSchedule from './110_02_pricing_schedule';
import * as refreshTokenExpiry from './110_03_refresh_token_expiry';
import * as kitchenScreens from './120_01_kitchen_screens';
import * as drawerTerminals from './120_02_drawer_terminals';

/** Migrations in order, imported statically so they run the same from source (tests) and from dist/. */
const migrations: Record<string, Knex.Migration> = {
  '001_foundation': foundation,
  '002_payment_callbacks': paymentCallbacks,
  '003_auth_security': authSecurity,
  '004_inventory': inventory,
  '005_devices': devices,
  '006_refunds': refunds,
  '020_session_expiry_notify': sessionExpiryNotify,
  '010_mpesa_reversal_status': mpesaReversalStatus,
  '040_webhook_receipts': webhookReceipts,
  '050_floor': floor,
  '060_01_kitchen_stations': kitchenStations,
  '060_02_item_86': item86,
  '060_03_approvals': approvals,
  '060_04_cash_drawers': cashDrawers,
  '070_receipts': receipts,
  '080_01_organisations': organisations,
  '090_01_event_pricing': eventPricing,
  '090_02_discount_groups': discountGroups,
  '090_03_refresh_tokens': refreshTokens,
  '100_refund_result_receipts': refundResultReceipts,
  '110_01_report_rollups': reportRollups,
  '110_02_pricing_schedule': pricingSchedule,
  '110_03_refresh_token_expiry': refreshTokenExpiry,
  '120_01_kitchen_screens': kitchenScreens,
  '120_02_drawer_terminals': drawerTerminals,
};

export const migrationSource: Knex.MigrationSource<string> = {
  // Sorted by name, so the order never depends on how the entries above were merged.
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
