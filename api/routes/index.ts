import type { AnyRoute } from '../route';
import { systemRoutes } from './system';
import { authRoutes } from './auth';
import { staffRoutes } from './staff';
import { timeclockRoutes } from './timeclock';
import { catalogRoutes } from './catalog';
import { settingsRoutes } from './settings';
import { discountsRoutes } from './discounts';
import { printersRoutes } from './printers';
import { devicesRoutes } from './devices';
import { displaysRoutes } from './displays';
import { ordersRoutes } from './orders';
import { paymentsRoutes } from './payments';
import { refundsRoutes } from './refunds';
import { webhookRoutes } from './webhooks';
import { reportsRoutes } from './reports';
import { inventoryRoutes } from './inventory';
import { stockCountRoutes } from './stock-counts';
import { supportRoutes } from './support';
import { auditRoutes } from './audit';
import { paymentsListRoutes } from './payments-list';
import { paymentCallbacksRoutes } from './payment-callbacks';
import { operatorTokenRoutes } from './operator-tokens';
import { tablesRoutes } from './tables';
import { customersRoutes } from './customers';
import { splitRoutes } from './split';
import { drawersRoutes } from './drawers';
import { receiptsRoutes } from './receipts';
import { locationsRoutes } from './locations';
import { organisationReportRoutes } from './organisation-report';
import { kitchenScreensRoutes } from './kitchen-screens';

/** Every route of the API; the OpenAPI document is generated from this same list. */
export function allRoutes(): AnyRoute[] {
  const routes: AnyRoute[] = [];
  routes.push(
    ...systemRoutes(() => routes),
    ...authRoutes(),
    ...staffRoutes(),
    ...timeclockRoutes(),
    ...catalogRoutes(),
    ...settingsRoutes(),
    ...discountsRoutes(),
    ...printersRoutes(),
    ...devicesRoutes(),
    ...displaysRoutes(),
    ...ordersRoutes(),
    ...paymentsRoutes(),
    ...refundsRoutes(),
    ...paymentsListRoutes(),
    ...webhookRoutes(),
    ...reportsRoutes(),
    ...inventoryRoutes(),
    ...stockCountRoutes(),
    ...supportRoutes(),
    ...auditRoutes(),
    ...paymentCallbacksRoutes(),
    ...operatorTokenRoutes(),
    ...tablesRoutes(),
    ...customersRoutes(),
    ...splitRoutes(),
    ...drawersRoutes(),
    ...receiptsRoutes(),
    ...locationsRoutes(),
    ...organisationReportRoutes(),
    ...kitchenScreensRoutes(),
  );
  return routes;
}
