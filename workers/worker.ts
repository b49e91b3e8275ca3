import * as path from 'node:path';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  WorkerOptions,
  makeTelemetryFilterString,
  type LogEntry,
} from '@temporalio/worker';
import { logger as rootLogger } from '../platform/logger';
import { createActivities } from '../activities';
import { printingActivities } from '../activities/printing/activities';
import { printingTaskQueue } from '../core/events';
import type { ActivityDeps } from '../activities/deps';
import type { Logger } from '../platform/logger';
import { activityLogInterceptor } from './activity-log';

const sdkLog = rootLogger.child({ component: 'temporal-sdk' });
const PINO_LEVEL = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;
/**
 * Expected at every start, not a problem: a printing worker has activities only, so the SDK says
 * it will not poll for workflow tasks ("No workflows registered, not polling for workflow tasks").
 */
const EXPECTED = /^No workflows registered, not polling/;

/** The SDK's own log lines as JSON through pino (its default logger prints plain text to stderr). */
export function forwardSdkLog(entry: LogEntry): void {
  const level = EXPECTED.test(entry.message) ? 'debug' : PINO_LEVEL[entry.level];
  sdkLog[level]({ ...entry.meta }, entry.message);
}

let runtimeInstalled = false;
/**
 * Installs the Temporal core runtime once per process: its own logs at warn level so they do not
 * drown ours, and, given `metricsAddress` (host:port), the SDK's Prometheus metrics (workflow and
 * activity task latencies, slots, sticky cache, polls; prefixed `temporal_`) served on
 * http://<metricsAddress>/metrics by the core itself.
 */
export function installRuntime(opts: { metricsAddress?: string } = {}): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: new DefaultLogger(process.env.NODE_ENV === 'test' ? 'ERROR' : 'WARN', forwardSdkLog),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(opts.metricsAddress
        ? {
            metrics: {
              prometheus: { bindAddress: opts.metricsAddress, countersTotalSuffix: true, useSecondsForDurations: true },
            },
          }
        : {}),
    },
  });
}

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt workflow bundle (tests build it once); otherwise the worker bundles workflows/ itself. */
  workflowBundlePath?: string;
  tuning?: Partial<WorkerOptions>;
}

export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', 'index');

/** The central worker: every workflow, and every activity except printing (see printing worker). */
export async function createCentralWorker(setup: WorkerSetup): Promise<Worker> {
  return Worker.create({
    connection: setup.connection,
    namespace: setup.namespace,
    taskQueue: setup.taskQueue,
    activities: createActivities(setup.deps),
    interceptors: { activity: [activityLogInterceptor(setup.deps.logger)] },
    ...(setup.workflowBundlePath
      ? { workflowBundle: { codePath: setup.workflowBundlePath } }
      : { workflowsPath: require.resolve(WORKFLOWS_PATH) }),
    ...setup.tuning,
  });
}

/**
 * The printing worker of one location: it only talks to printers on the shop's LAN, so it can
 * run on a small box in the shop (no database access needed).
 */
export async function createPrintingWorker(
  setup: Omit<WorkerSetup, 'deps' | 'taskQueue' | 'workflowBundlePath'> & { locationId: string; logger?: Logger },
): Promise<Worker> {
  return Worker.create({
    connection: setup.connection,
    namespace: setup.namespace,
    taskQueue: printingTaskQueue(setup.locationId),
    activities: printingActivities(),
    interceptors: { activity: [activityLogInterceptor(setup.logger ?? rootLogger)] },
    ...setup.tuning,
  });
}
