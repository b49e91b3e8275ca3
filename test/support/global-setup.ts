import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmbeddedPostgres } from '../../platform/postgres';
import { loadDevServerConfig } from '../../platform/temporal-dev-config';
import { ensureTemporalCli } from '../../platform/temporal-cli';
import { startTemporalDevServer } from '../../platform/temporal-server';
import { createKnex, migrateLatest } from '../../db/knex';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../../workers/worker';
import { ensureStripeMock } from '../../platform/stripe-mock';
import { ensureTestServer } from './time-skipping';

/**
 * Starts the real components once for the whole suite: an embedded PostgreSQL with a migrated
 * template database (each test file clones it), and a Temporal dev server. DATABASE_URL /
 * TEMPORAL_ADDRESS, when set, are used instead.
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-test-'));
  fs.chmodSync(tmp, 0o755); // embedded postgres runs as the postgres user when we are root
  const handles: Array<() => Promise<void>> = [];
  process.env.NODE_ENV = 'test';
  process.env.TILLFLOW_TEST_TMP = tmp;

  // Tools some suites need, built once here (cached per machine) rather than raced by test files.
  // The Stripe simulator runs the stripe-mock found here (test workers inherit this environment).
  const tools = Promise.all([
    ensureStripeMock().then((bin) => (process.env.STRIPE_MOCK_BIN = bin.path)),
    ensureTestServer(),
  ]);
  const [pgUrl, temporal] = await Promise.all([
    process.env.DATABASE_URL
      ? Promise.resolve(process.env.DATABASE_URL)
      : startEmbeddedPostgres({ dir: path.join(tmp, 'pg'), database: 'postgres', persistent: false }).then((pg) => {
          handles.push(pg.stop);
          return pg.url;
        }),
    process.env.TEMPORAL_ADDRESS
      ? Promise.resolve({
          address: process.env.TEMPORAL_ADDRESS,
          namespace: process.env.TEMPORAL_NAMESPACE ?? 'tillflow',
        })
      : (async () => {
          const cfg = loadDevServerConfig();
          const cli = await ensureTemporalCli(cfg);
          const server = await startTemporalDevServer({ cliPath: cli.path, cfg, randomPorts: true, headless: true });
          handles.push(server.stop);
          process.env.TILLFLOW_TEST_TEMPORAL_CLI = cli.path;
          return server;
        })(),
  ]);

  await tools;
  // One workflow bundle for every test file's workers (bundling takes seconds).
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve(WORKFLOWS_PATH),
    logger: quietBundlerLogger,
  });
  const bundlePath = path.join(tmp, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, code);
  process.env.TILLFLOW_TEST_WORKFLOW_BUNDLE = bundlePath;

  const admin = createKnex(pgUrl, { min: 0, max: 1 });
  await admin.raw('DROP DATABASE IF EXISTS tillflow_template');
  await admin.raw('CREATE DATABASE tillflow_template');
  await admin.destroy();
  const templateUrl = withDatabase(pgUrl, 'tillflow_template');
  const template = createKnex(templateUrl, { min: 0, max: 1 });
  await migrateLatest(template);
  await template.destroy();

  process.env.TILLFLOW_TEST_PG_URL = pgUrl;
  process.env.TEMPORAL_ADDRESS = temporal.address;
  process.env.TEMPORAL_NAMESPACE = temporal.namespace;
  (globalThis as any).__tillflowTeardown = handles;
  (globalThis as any).__tillflowTmp = tmp;
  if (process.env.CI) console.log(`\n[test setup] postgres + temporal ready in ${Date.now() - started} ms`);
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + database;
  return u.toString();
}

const noop = () => undefined;
const quietBundlerLogger = {
  log: noop,
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: (m: string, meta?: unknown) => console.error(m, meta),
};
