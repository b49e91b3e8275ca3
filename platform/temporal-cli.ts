import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { DevServerConfig } from './temporal-dev-config';
import { goInstallInto, isExecutable, onPath, toolCacheDir } from './binaries';

export interface CliLocation {
  path: string;
  source: 'TEMPORAL_CLI' | 'PATH' | 'cache' | 'built';
}

export function cliCacheDir(cfg: DevServerConfig, env: NodeJS.ProcessEnv = process.env): string {
  return toolCacheDir(`temporal-${cfg.cli.version}`, env);
}

/**
 * Finds the Temporal CLI without building: TEMPORAL_CLI, then `temporal` on PATH, then the cache
 * shared by every clone on this machine.
 */
export function findTemporalCli(cfg: DevServerConfig, env: NodeJS.ProcessEnv = process.env): CliLocation | undefined {
  if (env.TEMPORAL_CLI) {
    if (!isExecutable(env.TEMPORAL_CLI)) throw new Error(`TEMPORAL_CLI=${env.TEMPORAL_CLI} is not an executable file`);
    return { path: env.TEMPORAL_CLI, source: 'TEMPORAL_CLI' };
  }
  const fromPath = onPath('temporal', env);
  if (fromPath) return { path: fromPath, source: 'PATH' };
  const cached = path.join(cliCacheDir(cfg, env), 'temporal');
  if (isExecutable(cached) && cliWorks(cached)) return { path: cached, source: 'cache' };
  return undefined;
}

function cliWorks(bin: string): boolean {
  return spawnSync(bin, ['--version'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/**
 * Builds the CLI with `go install` into the cache, streaming Go's progress (`-v` prints each
 * package as it compiles). The binary is moved into place only once it works, so an interrupted
 * build never leaves a broken cache behind.
 */
export async function buildTemporalCli(
  cfg: DevServerConfig,
  env: NodeJS.ProcessEnv = process.env,
  progress: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Promise<CliLocation> {
  const go = onPath('go', env);
  if (!go) {
    throw new Error(
      'No Temporal CLI found (TEMPORAL_CLI, PATH, cache) and Go is not installed to build it. ' +
        'Install Go, put `temporal` on PATH, or set TEMPORAL_ADDRESS to an existing Temporal server.',
    );
  }
  const target = path.join(cliCacheDir(cfg, env), 'temporal');
  progress(`Building Temporal CLI ${cfg.cli.version} with Go (first run only; takes a few minutes on 2 cores)…`);
  const secs = await goInstallInto({
    go,
    module: cfg.cli.module,
    version: cfg.cli.version,
    binary: 'temporal',
    target,
    works: cliWorks,
    progress,
    env,
  });
  progress(`Temporal CLI built in ${secs}s and cached at ${target}`);
  return { path: target, source: 'built' };
}

export async function ensureTemporalCli(
  cfg: DevServerConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliLocation> {
  return findTemporalCli(cfg, env) ?? (await buildTemporalCli(cfg, env));
}
