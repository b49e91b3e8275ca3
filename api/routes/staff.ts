import type { AnyRoute } from '../route';

export function staffRoutes(): AnyRoute[] {
  return [];
}
