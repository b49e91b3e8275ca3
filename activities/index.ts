import type { ActivityDeps } from './deps';
import { systemActivities } from './system';

/** All activities for the central task queue, bound to their dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...systemActivities(deps),
  };
}
export type Activities = ReturnType<typeof createActivities>;
