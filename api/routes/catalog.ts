import type { AnyRoute } from '../route';

export function catalogRoutes(): AnyRoute[] {
  return [];
}
