import type { ActivityDeps } from './deps';
import { systemActivities } from './system';
import { orderActivities } from './orders';

/** All activities for the central task queue, bound to their dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...systemActivities(deps),
    ...orderActivities(deps),
  };
}
export type Activities = ReturnType<typeof createActivities>;
