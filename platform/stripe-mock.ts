import * as fs from 'node:fs';
import * as path from 'node:path';
import { goInstallInto, isExecutable, onPath, toolCacheDir } from './binaries';
import { isAlive } from './processes';
import { spawnSync } from 'node:child_process';

/**
 * Finds, builds and caches stripe-mock (Stripe's official API mock, a Go program), the same way
 * platform/temporal-cli.ts does for the Temporal CLI: an explicit path, then PATH, then a cache
 * shared by every clone on this machine, and only then `go install` into that cache.
 */
export const STRIPE_MOCK_MODULE = 'github.com/stripe/stripe-mock';
export const STRIPE_MOCK_VERSION = 'v0.197.0';

export interface StripeMockLocation {
  path: string;
  source: 'STRIPE_MOCK_BIN' | 'PATH' | 'cache' | 'built';
}

export function stripeMockCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return toolCacheDir(`stripe-mock-${STRIPE_MOCK_VERSION}`, env);
}

/** `stripe-mock -version` exits 0 (it prints "master" for `go install` builds, so the version itself can't be checked). */
function stripeMockWorks(bin: string): boolean {
  return spawnSync(bin, ['-version'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/** Finds stripe-mock without building: STRIPE_MOCK_BIN, then `stripe-mock` on PATH, then the cache. */
export function findStripeMock(env: NodeJS.ProcessEnv = process.env): StripeMockLocation | undefined {
  if (env.STRIPE_MOCK_BIN) {
    if (!isExecutable(env.STRIPE_MOCK_BIN))
      throw new Error(`STRIPE_MOCK_BIN=${env.STRIPE_MOCK_BIN} is not an executable file`);
    return { path: env.STRIPE_MOCK_BIN, source: 'STRIPE_MOCK_BIN' };
  }
  const fromPath = onPath('stripe-mock', env);
  if (fromPath) return { path: fromPath, source: 'PATH' };
  const cached = path.join(stripeMockCacheDir(env), 'stripe-mock');
  if (isExecutable(cached) && stripeMockWorks(cached)) return { path: cached, source: 'cache' };
  return undefined;
}

/**
 * Builds stripe-mock with `go install -v` into a temporary GOBIN, streaming Go's progress, then
 * copies it into the cache once it runs (write to `.partial`, then rename, so an interrupted build
 * never leaves a broken cache). Two processes building at once (jest runs test files in parallel)
 * serialise on a lock directory: the second waits for the first's binary instead of building again.
 */
export async function buildStripeMock(
  env: NodeJS.ProcessEnv = process.env,
  progress: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Promise<StripeMockLocation> {
  const go = onPath('go', env);
  if (!go) {
    throw new Error(
      `No stripe-mock found (STRIPE_MOCK_BIN, PATH, cache) and Go is not installed to build it. ` +
        `Install Go, or put stripe-mock ${STRIPE_MOCK_VERSION} on PATH (go install ${STRIPE_MOCK_MODULE}@${STRIPE_MOCK_VERSION}).`,
    );
  }
  const cacheDir = stripeMockCacheDir(env);
  const target = path.join(cacheDir, 'stripe-mock');
  fs.mkdirSync(cacheDir, { recursive: true });
  const release = await acquireBuildLock(path.join(cacheDir, '.build-lock'), target, progress);
  if (!release) return { path: target, source: 'cache' }; // someone else built it while we waited
  try {
    progress(`Building stripe-mock ${STRIPE_MOCK_VERSION} with Go (first run only; about a minute on 2 cores)…`);
    const secs = await goInstallInto({
      go,
      module: STRIPE_MOCK_MODULE,
      version: STRIPE_MOCK_VERSION,
      binary: 'stripe-mock',
      target,
      works: stripeMockWorks,
      progress,
      env,
      progressEvery: 10,
    });
    progress(`stripe-mock built in ${secs}s and cached at ${target}`);
    return { path: target, source: 'built' };
  } finally {
    release();
  }
}

/**
 * mkdir is atomic, so the lock is a directory holding the owner's pid. Returns a release function,
 * or undefined when another process finished the binary while we waited. A lock whose owner is
 * dead is taken over.
 */
async function acquireBuildLock(
  lockDir: string,
  target: string,
  progress: (line: string) => void,
): Promise<(() => void) | undefined> {
  const deadline = Date.now() + 20 * 60_000;
  let told = false;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      const release = () => fs.rmSync(lockDir, { recursive: true, force: true });
      // The build we waited for may have just finished and released the lock.
      if (isExecutable(target) && stripeMockWorks(target)) {
        release();
        return undefined;
      }
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (isExecutable(target) && stripeMockWorks(target)) return undefined;
    const owner = Number(readOr(path.join(lockDir, 'pid'), '0'));
    if (owner ? !isAlive(owner) : lockAgeMs(lockDir) > 60_000) {
      fs.rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for another stripe-mock build (lock ${lockDir})`);
    if (!told) {
      progress(`Waiting for the stripe-mock build already running (pid ${owner || '?'})…`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}

function lockAgeMs(dir: string): number {
  try {
    return Date.now() - fs.statSync(dir).mtimeMs;
  } catch {
    return 0;
  }
}

export async function ensureStripeMock(
  env: NodeJS.ProcessEnv = process.env,
  progress?: (line: string) => void,
): Promise<StripeMockLocation> {
  return findStripeMock(env) ?? (await buildStripeMock(env, progress));
}
