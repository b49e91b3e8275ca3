import * as path from 'node:path';
import { DevServerConfig } from './temporal-dev-config';
import { answersVersion as cliWorks, goInstallInto, isExecutable, onPath, toolCacheDir } from './binaries';
import { downloadTemporalCliWithSdk } from './temporal-cli-download';

export interface CliLocation {
  path: string;
  source: 'TEMPORAL_CLI' | 'PATH' | 'cache' | 'built' | 'downloaded';
}

type Progress = (line: string) => void;

/**
 * The two ways to obtain a missing CLI, each writing a working binary to `target` (the cache) or
 * throwing. Injectable so the selection order can be tested with fakes.
 */
export interface CliAcquirers {
  /** `go install` with the given Go binary (only tried when Go is on PATH). */
  build: (
    go: string,
    cfg: DevServerConfig,
    target: string,
    env: NodeJS.ProcessEnv,
    progress: Progress,
  ) => Promise<void>;
  /** The Temporal SDK's own cached download of the dev server (needs internet, no Go). */
  download: (cfg: DevServerConfig, target: string, env: NodeJS.ProcessEnv, progress: Progress) => Promise<void>;
}

export function cliCacheDir(cfg: DevServerConfig, env: NodeJS.ProcessEnv = process.env): string {
  return toolCacheDir(`temporal-${cfg.cli.version}`, env);
}

function cachedCliPath(cfg: DevServerConfig, env: NodeJS.ProcessEnv): string {
  return path.join(cliCacheDir(cfg, env), 'temporal');
}

/**
 * Finds the Temporal CLI without building or downloading: TEMPORAL_CLI, then `temporal` on PATH,
 * then the cache shared by every clone on this machine.
 */
export function findTemporalCli(cfg: DevServerConfig, env: NodeJS.ProcessEnv = process.env): CliLocation | undefined {
  if (env.TEMPORAL_CLI) {
    if (!isExecutable(env.TEMPORAL_CLI)) throw new Error(`TEMPORAL_CLI=${env.TEMPORAL_CLI} is not an executable file`);
    return { path: env.TEMPORAL_CLI, source: 'TEMPORAL_CLI' };
  }
  const fromPath = onPath('temporal', env);
  if (fromPath) return { path: fromPath, source: 'PATH' };
  const cached = cachedCliPath(cfg, env);
  if (isExecutable(cached) && cliWorks(cached)) return { path: cached, source: 'cache' };
  return undefined;
}

/** Builds the pinned CLI module with Go into `target`, streaming Go's progress. */
async function buildWithGo(
  go: string,
  cfg: DevServerConfig,
  target: string,
  env: NodeJS.ProcessEnv,
  progress: Progress,
): Promise<void> {
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
}

export const defaultAcquirers: CliAcquirers = { build: buildWithGo, download: downloadTemporalCliWithSdk };

/**
 * Obtains a missing CLI into the cache: with Go when it is installed (the pinned module, as
 * built for the cluster), else (or when the build fails) through the SDK's download, which is
 * what a machine with internet and no Go gets. Only when both fail does the start give up.
 */
export async function acquireTemporalCli(
  cfg: DevServerConfig,
  env: NodeJS.ProcessEnv = process.env,
  acquirers: CliAcquirers = defaultAcquirers,
  progress: Progress = (l) => process.stderr.write(l + '\n'),
): Promise<CliLocation> {
  const target = cachedCliPath(cfg, env);
  const go = onPath('go', env);
  let buildFailure = 'Go is not installed';
  if (go) {
    try {
      await acquirers.build(go, cfg, target, env, progress);
      return { path: target, source: 'built' };
    } catch (err) {
      buildFailure = `building with Go failed: ${(err as Error).message}`;
      progress(`${buildFailure}; trying the Temporal SDK's download instead`);
    }
  }
  try {
    await acquirers.download(cfg, target, env, progress);
    return { path: target, source: 'downloaded' };
  } catch (err) {
    throw new Error(
      `No Temporal CLI found (TEMPORAL_CLI, PATH, cache ${target}); ${buildFailure}; ` +
        `downloading it through the Temporal SDK failed: ${(err as Error).message}. ` +
        'Put `temporal` on PATH, set TEMPORAL_CLI, install Go, or set TEMPORAL_ADDRESS to an existing Temporal server.',
      { cause: err },
    );
  }
}

export async function ensureTemporalCli(
  cfg: DevServerConfig,
  env: NodeJS.ProcessEnv = process.env,
  acquirers: CliAcquirers = defaultAcquirers,
  progress?: Progress,
): Promise<CliLocation> {
  return findTemporalCli(cfg, env) ?? (await acquireTemporalCli(cfg, env, acquirers, progress));
}
