/**
 * `npm run cluster`: the production topology on this machine (cluster/cluster.ts) — PostgreSQL,
 * Temporal server v1.29.1 on it (4 history shards), the Web UI, the sandbox gateways — then
 * 2 × TILLFLOW_ROLE=api and 2 × TILLFLOW_ROLE=worker against it. TILLFLOW_CLUSTER_DIR (default
 * .data/cluster) keeps everything across restarts; TILLFLOW_CLUSTER_PORT (default 7300) is the
 * first of the 25 ports it uses; TILLFLOW_CLUSTER_REPLICAS=0 starts no Tillflow replicas (the
 * test starts its own from <dir>/cluster.json). Ctrl-C stops it all in reverse order.
 */
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startCluster } from '../cluster/cluster';
import { endProcess, startTillflowProcess } from '../cluster/replicas';
import { CLUSTER_DEFAULT_PORT, ensureClusterTool } from '../cluster/temporal';

const prefixed = (name: string) => (chunk: string) => {
  for (const line of chunk.split('\n')) if (line.trim()) process.stdout.write(`[${name}] ${line}\n`);
};

/** `npm run cluster -- --build-only`: build (or find cached) the Temporal server, SQL tool and UI server, then exit (CI's build step). */
async function buildOnly(): Promise<void> {
  for (const tool of ['server', 'sql', 'ui'] as const)
    process.stdout.write(`[cluster] ${tool}: ${await ensureClusterTool(tool, prefixed('build'))}\n`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--build-only')) return buildOnly();
  const dataDir = path.resolve(process.env.TILLFLOW_CLUSTER_DIR || path.join('.data', 'cluster'));
  const portBase = Number(process.env.TILLFLOW_CLUSTER_PORT || CLUSTER_DEFAULT_PORT);
  const cluster = await startCluster({ dataDir, portBase, log: prefixed('cluster') });
  const replicas: ChildProcess[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await Promise.all(replicas.map((r) => endProcess(r, 'SIGTERM')));
    await cluster.stop();
    process.exit(code);
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => void stop(0));
  const withReplicas = process.env.TILLFLOW_CLUSTER_REPLICAS !== '0';
  try {
    // Workers first: the API replicas then find someone to run what they start.
    for (const [role, i] of withReplicas
      ? ([
          ['worker', 0],
          ['worker', 1],
          ['api', 0],
          ['api', 1],
        ] as const)
      : []) {
      const name = `${role}-${i + 1}`;
      const child = await startTillflowProcess(cluster.tillflowEnv(role, i), { onOutput: prefixed(name) });
      replicas.push(child);
      child.once('exit', (code, signal) => {
        if (!stopping) process.stdout.write(`[cluster] ${name} exited (${code ?? signal}); stopping the cluster\n`);
        void stop(1);
      });
    }
  } catch (err) {
    process.stderr.write(`cluster: ${(err as Error).message}\n`);
    return stop(1);
  }
  process.stdout.write(
    [
      '',
      'Tillflow cluster is up:',
      withReplicas
        ? `  API replicas   ${cluster.apiUrls.join('  ')}  (webhooks go to the second)`
        : '  No Tillflow replicas (TILLFLOW_CLUSTER_REPLICAS=0): their environment is in cluster.json',
      `  Temporal       ${cluster.temporalAddress}  namespace ${cluster.namespace}`,
      `  Temporal UI    ${cluster.uiUrl}`,
      `  PostgreSQL     ${cluster.databaseUrl}`,
      `  Sandbox        ${cluster.sandbox.controlUrl}/sandbox/charges`,
      `  Described in   ${path.join(dataDir, 'cluster.json')}`,
      'Press Ctrl-C to stop.',
      'cluster ready',
      '',
    ].join('\n'),
  );
}

main().catch((err: Error) => {
  process.stderr.write(`cluster: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
