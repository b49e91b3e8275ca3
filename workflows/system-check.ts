import { proxyActivities } from '@temporalio/workflow';
import type { SystemActivities } from '../activities/system';

const { databaseTime } = proxyActivities<SystemActivities>({ startToCloseTimeout: '10 seconds' });

/** A round trip through Temporal, a worker and Postgres: used by start-up checks and tests. */
export async function systemCheck(echo: string): Promise<{ echo: string; databaseTime: string }> {
  return { echo, databaseTime: await databaseTime() };
}
