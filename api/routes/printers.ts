import type { AnyRoute } from '../route';

export function printersRoutes(): AnyRoute[] {
  return [];
}
