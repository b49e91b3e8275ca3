import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { connectTemporalClient } from '../../platform/temporal-client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createTestDatabase } from './database';
import { startApiServer } from '../../api/server';
import type { AppDeps } from '../../api/types';
import { seedDemoShop, SeededShop } from '../../db/seed';
import { logger as rootLogger, type Logger } from '../../platform/logger';
import type { Gateways } from '../../core/gateway';
import { setupPayments } from '../../launcher/payments';
import { loadConfig } from '../../platform/config';
import { createCentralWorker, createPrintingWorker, installRuntime } from '../../workers/worker';

export interface Harness {
  baseUrl: string;
  /** The payment simulators when started with `sandboxPayments`. */
  simulators: import('../../launcher/payments').PaymentSetup['simulators'];
  /** A database URL of this harness (for a second API replica in tests). */
  databaseUrl: string;
  deps: AppDeps;
  shop: SeededShop;
  worker?: Worker;
  taskQueue: string;
  login(pin: string): Promise<string>;
  api(
    method: string,
    path: string,
    opts?: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/**
 * A whole Tillflow for one test file: its own database (seeded demo shop), a worker on its own
 * task queue against the suite's Temporal dev server, and the API on a free port.
 */
export interface HarnessOptions {
  /** Extra environment for loadConfig (e.g. shorter timeouts). */
  env?: Record<string, string>;
  /** Run the central worker in this process (false: a test runs worker processes itself). */
  centralWorker?: boolean;
  /** Payment gateway adapters (e.g. pointed at the simulators). */
  gateways?: Gateways;
  /** Every gateway against its simulator, exactly as `npm start` sets them up without credentials. */
  sandboxPayments?: boolean;
  /** Run the shop's printing worker (false: print jobs wait in their queue and nothing connects to a printer). */
  printingWorker?: boolean;
  /** The API's and the worker's logger (a test reading the log lines passes its own). */
  logger?: Logger;
}

/**
 * Every test file comes from 127.0.0.1 and logs in, changes PINs and sends wrong PINs far faster
 * than any shop: the limits are raised here so only the tests about them (which pass their own
 * env) ever meet them.
 */
export const TEST_LIMITS = {
  TILLFLOW_RATE_LIMIT_IP_PER_MINUTE: '1000000',
  TILLFLOW_RATE_LIMIT_TOKEN_PER_MINUTE: '1000000',
  TILLFLOW_RATE_LIMIT_PIN_CHANGES: '1000000',
  TILLFLOW_PIN_FAILURES_PER_LOCATION_HOUR: '1000000',
};

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const env = opts.env ?? {};
  const logger = opts.logger ?? rootLogger;
  installRuntime();
  const sandbox = opts.sandboxPayments ? await setupPayments({}, { sandbox: true, logger }) : undefined;
  if (sandbox) opts = { ...opts, gateways: sandbox.gateways };
  const db = await createTestDatabase();
  const taskQueue = 'test-' + randomUUID();
  const config = {
    ...loadConfig({
      ...process.env,
      PORT: '0',
      TILLFLOW_TOKEN_SECRET: 'test-secret-'.padEnd(40, 'x'),
      TILLFLOW_TASK_QUEUE: taskQueue,
      TILLFLOW_PRINT_BACKOFF_MS: '200',
      TILLFLOW_PRINT_MAX_BACKOFF_MS: '500',
      ...TEST_LIMITS,
      ...env,
    }),
  };
  const client = await connectTemporalClient(process.env.TEMPORAL_ADDRESS!);
  const temporal = new Client({ connection: client.connection, namespace: config.temporalNamespace });
  const nativeConnection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const deps: AppDeps = {
    knex: db.knex,
    temporal,
    config,
    logger,
    version: 'test',
    startedAt: new Date(),
    gateways: opts.gateways,
  };
  const worker =
    opts.centralWorker === false
      ? undefined
      : await createCentralWorker({
          connection: nativeConnection,
          namespace: config.temporalNamespace,
          taskQueue,
          deps: { knex: db.knex, logger, gateways: opts.gateways, smtp: config.smtp },
          workflowBundlePath: process.env.TILLFLOW_TEST_WORKFLOW_BUNDLE,
        });
  const running = worker?.run();
  const shop = (await seedDemoShop(db.knex, config.tokenSecret))!;
  const printingWorker =
    opts.printingWorker === false
      ? undefined
      : await createPrintingWorker({
          connection: nativeConnection,
          namespace: config.temporalNamespace,
          locationId: shop.locationId,
          logger,
        });
  const printingRunning = printingWorker?.run();
  const apiServer = await startApiServer(deps, {
    databaseUrl: db.url,
    port: 0,
    host: '127.0.0.1',
    pingIntervalMs: 1000,
  });
  const baseUrl = apiServer.url;
  config.publicBaseUrl ??= baseUrl; // gateways call back here
  if (sandbox) {
    config.airtelCallbackToken = sandbox.airtelCallbackToken;
    deps.paymentModes = sandbox.modes;
    sandbox.attach(baseUrl);
  }

  const api: Harness['api'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined = opts.raw;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    } else if (opts.raw !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as any, headers: res.headers };
  };

  return {
    baseUrl,
    databaseUrl: db.url,
    simulators: sandbox?.simulators ?? {},
    deps,
    shop,
    worker,
    taskQueue,
    api,
    async login(pin) {
      const res = await api('POST', '/api/v1/auth/login', { body: { pin } });
      if (res.status !== 200) throw new Error(`login ${pin} failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.token as string;
    },
    async close() {
      await apiServer.close();
      worker?.shutdown();
      printingWorker?.shutdown();
      await Promise.all([running, printingRunning]);
      await nativeConnection.close();
      await client.close();
      await db.drop();
      await sandbox?.close();
    },
  };
}
