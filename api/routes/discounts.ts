import type { AnyRoute } from '../route';

export function discountsRoutes(): AnyRoute[] {
  return [];
}
