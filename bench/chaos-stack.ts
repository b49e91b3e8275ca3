/**
 * bench:chaos's deployment on one machine, every part its own process so each can be killed:
 * embedded PostgreSQL (stopped and started again by the bench), the Temporal dev server, the
 * sandbox gateways (`npm run sandbox`), two API replicas and one worker (bin/start.ts with
 * TILLFLOW_ROLE), pointed at each other only through the documented environment variables.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../platform/postgres';
import { startTemporalDevServer, type DevServerHandle } from '../platform/temporal-server';
import { loadDevServerConfig } from '../platform/temporal-dev-config';
import { ensureTemporalCli } from '../platform/temporal-cli';
import { freePort } from '../platform/processes';
import { freePortBlock } from '../cluster/ports';
import { endProcess, killTillflowProcesses, startTillflowProcess } from '../cluster/replicas';
import { startSandboxProcess, type SandboxProcess } from '../cluster/sandbox-process';
import { WORKFLOWS_PATH } from '../workers/worker';
import { TEST_LIMITS } from '../test/support/harness';

export interface ChaosStack {
  apiUrls: [string, string];
  databaseUrl: string;
  temporal: DevServerHandle;
  sandbox: SandboxProcess;
  /** SIGKILLs the worker and starts a new one (resolves once it is ready). */
  killWorker(): Promise<void>;
  /** SIGKILLs API replica `i`, then starts it again on the same port, as a service manager would. */
  killApi(i: 0 | 1, downMs: number): Promise<void>;
  /** Stops PostgreSQL for `ms`, then starts it again on the same data. */
  stopPostgres(ms: number): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startChaosStack(log: (line: string) => void): Promise<ChaosStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-chaos-'));
  fs.chmodSync(dir, 0o755); // the embedded PostgreSQL runs as the postgres user under root
  const stops: Array<() => Promise<void>> = [() => killTillflowProcesses()];
  const stop = async () => {
    while (stops.length) await stops.pop()!().catch((err: Error) => log(`stop failed: ${err.message}`));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const infra = await startInfrastructure(dir, stops, log);
    return { ...(await startReplicas(dir, infra, log)), ...infra, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface Infrastructure {
  pg: EmbeddedPostgresHandle;
  databaseUrl: string;
  temporal: DevServerHandle;
  sandbox: SandboxProcess;
  apiUrls: [string, string];
  bundle: string;
}

async function startInfrastructure(
  dir: string,
  stops: Array<() => Promise<void>>,
  log: (line: string) => void,
): Promise<Infrastructure> {
  const cfg = loadDevServerConfig();
  const cli = await ensureTemporalCli(cfg);
  const [pg, temporal] = await Promise.all([
    startEmbeddedPostgres({ dir: path.join(dir, 'postgres'), database: 'tillflow', port: await freePort() }),
    startTemporalDevServer({ cliPath: cli.path, cfg, randomPorts: true, headless: true }),
  ]);
  stops.push(
    () => pg.stop(),
    () => temporal.stop(),
  );
  const apiUrls: [string, string] = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
  // Callbacks and webhooks go to the second replica: the one the bench does not kill.
  const sandbox = await startSandboxProcess(path.join(dir, 'sandbox'), await freePortBlock(5), {
    TILLFLOW_SANDBOX_WEBHOOK_BASE: apiUrls[1],
  });
  stops.push(() => sandbox.stop());
  // Built once: a restarted worker is then ready in a second or two, not after bundling again.
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve(WORKFLOWS_PATH), logger: quiet });
  const bundle = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundle, code);
  log(`PostgreSQL, Temporal ${temporal.address}, sandbox ${sandbox.controlUrl} ready`);
  return { pg, databaseUrl: pg.url, temporal, sandbox, apiUrls, bundle };
}

async function startReplicas(dir: string, infra: Infrastructure, log: (line: string) => void) {
  const common = {
    ...infra.sandbox.env,
    ...TEST_LIMITS, // no rate limit gets in the way of ten terminals sharing one cashier's PIN
    DATABASE_URL: infra.databaseUrl,
    TEMPORAL_ADDRESS: infra.temporal.address,
    TEMPORAL_NAMESPACE: infra.temporal.namespace,
    TILLFLOW_TOKEN_SECRET: randomBytes(32).toString('hex'),
    PUBLIC_BASE_URL: infra.apiUrls[1],
    TILLFLOW_SEED_DEMO: 'true',
    TILLFLOW_PAYMENTS_SANDBOX: 'false',
    TILLFLOW_MDNS: 'off',
    TILLFLOW_WORKFLOW_BUNDLE: infra.bundle,
  };
  const apiEnv = (i: number) => {
    const url = new URL(infra.apiUrls[i]!);
    return { ...common, TILLFLOW_ROLE: 'api', PORT: url.port, HOST: '127.0.0.1', TILLFLOW_DATA_DIR: `${dir}/api-${i}` };
  };
  const workerEnv = { ...common, TILLFLOW_ROLE: 'worker', TILLFLOW_DATA_DIR: `${dir}/worker` };
  // The first API replica migrates and seeds; the others start on a ready database.
  const apis: ChildProcess[] = [await startTillflowProcess(apiEnv(0))];
  let worker = await startTillflowProcess(workerEnv);
  apis[1] = await startTillflowProcess(apiEnv(1));
  log('2 API replicas and 1 worker ready');
  return {
    async killWorker() {
      await endProcess(worker, 'SIGKILL');
      worker = await startTillflowProcess(workerEnv);
    },
    async killApi(i: 0 | 1, downMs: number) {
      await endProcess(apis[i]!, 'SIGKILL');
      await sleep(downMs);
      apis[i] = await startTillflowProcess(apiEnv(i));
    },
    async stopPostgres(ms: number) {
      await infra.pg.stop();
      await sleep(ms);
      await infra.pg.restart();
    },
  };
}

const noop = () => undefined;
const quiet = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };
