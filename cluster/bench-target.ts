import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLUSTER_INFO_FILE, type ClusterInfo } from './cluster';
import { freePortBlock } from './ports';
import { endProcess, startClusterProcess } from './replicas';
import { CLUSTER_PORT_BLOCK } from './temporal';

/**
 * BENCH_TARGET=cluster for bench/checkout.ts: a fresh `npm run cluster` (no replicas) whose
 * PostgreSQL and Temporal server the bench's stack then uses through DATABASE_URL and
 * TEMPORAL_ADDRESS, exactly as test/support/global-setup.ts uses given ones instead of its own.
 */
export async function startBenchCluster(log: (line: string) => void): Promise<() => Promise<void>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-bench-cluster-'));
  fs.chmodSync(dir, 0o755); // the embedded PostgreSQL runs as the postgres user under root
  log('starting the cluster (Temporal server v1.29.1 on PostgreSQL, 4 shards) …');
  const child = await startClusterProcess(dir, await freePortBlock(CLUSTER_PORT_BLOCK));
  const info = JSON.parse(fs.readFileSync(path.join(dir, CLUSTER_INFO_FILE), 'utf8')) as ClusterInfo;
  const admin = new URL(info.databaseUrl);
  admin.pathname = '/postgres';
  process.env.DATABASE_URL = admin.toString();
  process.env.TEMPORAL_ADDRESS = info.temporalAddress;
  process.env.TEMPORAL_NAMESPACE = info.namespace;
  return async () => {
    await endProcess(child, 'SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  };
}
