import type { AnyRoute } from '../route';

export function timeclockRoutes(): AnyRoute[] {
  return [];
}
