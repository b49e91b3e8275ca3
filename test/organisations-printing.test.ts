import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { createTestDatabase } from './support/database';
import { connectTemporalClient } from '../platform/temporal-client';
import { Launcher, type RunningTillflow } from '../launcher/launcher';
import { printingTaskQueue } from '../core/events';
import { logger } from '../platform/logger';
import { until } from './support/payments';

/**
 * `npm start` (role all, TILLFLOW_PRINT_LOCATIONS=all by default) drives every location's
 * printers, including one an owner opens while it runs: no restart.
 */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let launcher: Launcher;
let running: RunningTillflow;
let client: Client;
beforeAll(async () => {
  db = await createTestDatabase();
  launcher = new Launcher({
    env: {
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE,
      TILLFLOW_ROLE: 'all',
      TILLFLOW_TASK_QUEUE: `orgs-printing-${process.pid}`,
      TILLFLOW_SEED_DEMO: 'true',
      PORT: '0',
      HOST: '127.0.0.1',
      TILLFLOW_TOKEN_SECRET: 'orgs-printing-secret-'.padEnd(40, 'x'),
      TILLFLOW_PAYMENTS_SANDBOX: 'false',
      TILLFLOW_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-orgs-')),
    },
    logger: logger.child({ test: 'organisations-printing' }),
    print: () => undefined,
  });
  running = await launcher.start();
  const connection = await connectTemporalClient(process.env.TEMPORAL_ADDRESS!);
  client = new Client({ connection: connection.connection, namespace: running.namespace });
});
afterAll(async () => {
  await launcher?.stop();
  await client?.connection.close();
  await db?.drop();
});

/** Whether a worker polls this location's printing task queue for activities. */
async function printingPolled(locationId: string): Promise<boolean> {
  const res = await client.workflowService.describeTaskQueue({
    namespace: running.namespace,
    taskQueue: { name: printingTaskQueue(locationId) },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (res.pollers ?? []).length > 0;
}

it("serves a new location's printing queue without a restart", async () => {
  const login = await fetch(`${running.apiUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ pin: '135790' }),
  });
  const { token } = (await login.json()) as { token: string };
  const created = await fetch(`${running.apiUrl}/api/v1/locations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: 'Opened while running' }),
  });
  expect(created.status).toBe(201);
  const { locationId } = (await created.json()) as { locationId: string };
  expect(await until(() => printingPolled(locationId), Boolean, 30_000)).toBe(true);
});
