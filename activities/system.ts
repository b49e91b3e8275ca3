import type { ActivityDeps } from './deps';

export function systemActivities(deps: ActivityDeps) {
  return {
    async databaseTime(): Promise<string> {
      const { rows } = await deps.knex.raw('select now() as now');
      return new Date(rows[0].now).toISOString();
    },
  };
}
export type SystemActivities = ReturnType<typeof systemActivities>;
