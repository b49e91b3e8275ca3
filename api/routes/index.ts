import type { AnyRoute } from '../route';
import { systemRoutes } from './system';
import { authRoutes } from './auth';

/** Every route of the API; the OpenAPI document is generated from this same list. */
export function allRoutes(): AnyRoute[] {
  const routes: AnyRoute[] = [];
  routes.push(...systemRoutes(() => routes), ...authRoutes());
  return routes;
}
