import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { DevServerConfig } from './temporal-dev-config';
import { isExecutable, onPath, toolCacheDir } from './binaries';

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
  const cacheDir = cliCacheDir(cfg, env);
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-temporal-build-'));
  progress(`Building Temporal CLI ${cfg.cli.version} with Go (first run only; takes a few minutes on 2 cores)…`);
  const started = Date.now();
  let packages = 0;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(go, ['install', '-v', `${cfg.cli.module}@${cfg.cli.version}`], {
      env: { ...env, GOBIN: staging, GOFLAGS: env.GOFLAGS ?? '' },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let buffered = '';
    const tail: string[] = [];
    child.stderr.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        packages += 1;
        if (packages % 25 === 0 || line.startsWith('go: downloading')) {
          const secs = Math.round((Date.now() - started) / 1000);
          progress(`  [${secs}s] ${packages} steps… ${line}`);
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`go install failed (exit ${code}):\n${tail.join('\n')}`)),
    );
  });
  const built = path.join(staging, 'temporal');
  if (!cliWorks(built)) throw new Error(`built Temporal CLI at ${built} does not run`);
  fs.mkdirSync(cacheDir, { recursive: true });
  const target = path.join(cacheDir, 'temporal');
  fs.copyFileSync(built, target + '.partial');
  fs.chmodSync(target + '.partial', 0o755);
  fs.renameSync(target + '.partial', target);
  fs.rmSync(staging, { recursive: true, force: true });
  progress(`Temporal CLI built in ${Math.round((Date.now() - started) / 1000)}s and cached at ${target}`);
  return { path: target, source: 'built' };
}

export async function ensureTemporalCli(cfg: DevServerConfig, env: NodeJS.ProcessEnv = process.env): Promise<CliLocation> {
  return findTemporalCli(cfg, env) ?? (await buildTemporalCli(cfg, env));
}
