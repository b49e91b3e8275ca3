import type { AnyRoute } from '../route';

export function settingsRoutes(): AnyRoute[] {
  return [];
}
