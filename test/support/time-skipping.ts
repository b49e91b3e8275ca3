/**
 * Temporal's time-skipping test server for workflow tests that need timers (hours of order
 * timeouts in milliseconds of real time), without the internet.
 *
 * `TestWorkflowEnvironment.createTimeSkipping()` normally downloads a native test-server binary
 * from a host this project cannot reach. The same server is published to Maven Central as a Java
 * artifact (io.temporal:temporal-test-server, main class io.temporal.testserver.TestServer), so
 * this module resolves it and its runtime dependencies with `mvn` once, caches them, and writes a
 * small shell wrapper that the SDK launches as an `existing-path` executable.
 *
 * How the SDK launches it (sdk-core ephemeral_server, TestServerConfig::start_server): the
 * executable gets exactly `<port>` plus `extraArgs` (none by default), with stdin closed and
 * stdout/stderr inherited; the SDK then polls 127.0.0.1:<port> for 5 s at most and stops the
 * server with SIGKILL. Hence the wrapper `exec`s java (so that SIGKILL reaches the JVM, not a
 * shell), passes "$@" through unchanged (TestServer.main takes `<port> [--enable-time-skipping]`;
 * without the flag time skipping starts locked, which is what the SDK expects: it unlocks it
 * while a test awaits a result or calls env.sleep), and starts the JVM from an AppCDS archive
 * made at cache time, C1 only, so it listens in ~0.3 s (~0.7 s without the archive, ~1.8 s with
 * the JVM's defaults): well inside the 5 s window even on a busy 2-core machine.
 *
 * A quirk to know when writing tests: the Java test server keeps a 10-year execution-timeout
 * timer for every workflow it started, and while result() has time skipping unlocked it skips to
 * the next of those once nothing else is due. So env.currentTimeMs() read after result() is not
 * when the workflow ended: take durations from history event times or workflow timestamps.
 *
 * Cache layout (`${XDG_CACHE_HOME:-~/.cache}/tillflow/temporal-test-server-<version>/`):
 *   temporal-test-server   the wrapper the SDK runs (written last: its presence marks a complete cache)
 *   lib/*.jar              the server and its runtime dependencies (from `mvn dependency:copy-dependencies`)
 *   app.jsa                AppCDS archive of the server's classes (optional: startup is just slower without)
 *   manifest.json          version, jar list, the java it was made with, timings
 *   pom.xml                the generated pom the jars were resolved from
 * The whole directory is built under a staging name next to it and renamed into place, so an
 * interrupted or concurrent build never leaves a half-made cache behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { tsToMs } from '@temporalio/common/lib/time';
import type { SearchAttributeType } from '@temporalio/common';
import {
  encodeSearchAttributeIndexedValueType,
  type SearchAttributeKey,
} from '@temporalio/common/lib/search-attributes';
import { isExecutable, onPath, toolCacheDir } from '../../platform/binaries';
import { freePort, isAlive } from '../../platform/processes';
import { WORKFLOWS_PATH, installRuntime } from '../../workers/worker';

/** Newest io.temporal:temporal-test-server on Maven Central when this was written. */
export const TEST_SERVER_VERSION = '1.38.0';
/** A binding so the server's own warnings and errors reach stderr (slf4j-api 1.7 is what it uses). */
const SLF4J_BINDING = { groupId: 'org.slf4j', artifactId: 'slf4j-simple', version: '1.7.36' };
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1';
const MAIN_CLASS = 'io.temporal.testserver.TestServer';
const WRAPPER = 'temporal-test-server';
const CDS_ARCHIVE = 'app.jsa';
const MANIFEST = 'manifest.json';
/** The same JVM options when the CDS archive is made and when it is used (the archive must match). */
const JVM_OPTS = [
  '-XX:TieredStopAtLevel=1',
  '-XX:+UseSerialGC',
  '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
  '-Dorg.slf4j.simpleLogger.logFile=System.err',
];
/** Keeps the JVM quiet about CDS (an archive made by another java is silently not used). */
const CDS_QUIET = ['-Xshare:auto', '-Xlog:cds=off', '-Xlog:cds+dynamic=off'];

export interface EnsureTestServerOptions {
  /** Artifact version (default TEMPORAL_TEST_SERVER_VERSION, else TEST_SERVER_VERSION). */
  version?: string;
  env?: NodeJS.ProcessEnv;
  /** Progress lines (default: stderr, prefixed). */
  progress?: (line: string) => void;
}

interface Manifest {
  version: string;
  jars: string[];
  java: JavaStamp | null;
  cds: boolean;
  resolveMs: number;
  createdAt: string;
}

interface JavaStamp {
  path: string;
  size: number;
  mtimeMs: number;
}

export function testServerCacheDir(version: string, env: NodeJS.ProcessEnv = process.env): string {
  return toolCacheDir(`temporal-test-server-${version}`, env);
}

const defaultProgress = (line: string) => process.stderr.write(`[time-skipping] ${line}\n`);

/**
 * Returns the path of an executable that starts Temporal's time-skipping test server, resolving
 * it from Maven Central into the cache the first time (needs `java` and `mvn`; later runs need
 * only `java`). Safe to call from several processes at once.
 */
export async function ensureTestServer(opts: EnsureTestServerOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const version = opts.version ?? env.TEMPORAL_TEST_SERVER_VERSION ?? TEST_SERVER_VERSION;
  const progress = opts.progress ?? defaultProgress;
  const dir = testServerCacheDir(version, env);
  const java = findJava(env);

  const cached = readValidCache(dir, version);
  if (cached) {
    if (!java) throw missingTool('java', 'to run the cached time-skipping test server');
    // A different java (upgraded JDK) cannot use the old CDS archive: make a new one, once.
    if (!sameJava(cached.java, java)) await refreshCds(dir, cached, java, progress);
    return path.join(dir, WRAPPER);
  }

  const lock = await acquireLock(dir + '.lock', () => readValidCache(dir, version) !== undefined, progress);
  try {
    const again = readValidCache(dir, version);
    if (again) return path.join(dir, WRAPPER);
    await build(dir, version, env, progress);
    return path.join(dir, WRAPPER);
  } finally {
    lock?.release();
  }
}

export interface TimeSkippingEnvOptions extends EnsureTestServerOptions {
  /**
   * Custom search attributes to register (the test server rejects a workflow task that upserts
   * an unknown one), e.g. `Object.values(SA)` from core/search-attributes.ts.
   */
  searchAttributes?: SearchAttributeKey<SearchAttributeType>[];
}

/**
 * A started time-skipping TestWorkflowEnvironment on the cached Java test server (namespace
 * `default`). Call `teardown()` when done: it stops the server.
 */
export async function createTimeSkippingEnv(opts: TimeSkippingEnvOptions = {}): Promise<TestWorkflowEnvironment> {
  const exe = await ensureTestServer(opts);
  installRuntime();
  const env = await startWithRetries(exe);
  try {
    if (opts.searchAttributes?.length) {
      await env.connection.operatorService.addSearchAttributes({
        namespace: env.namespace ?? 'default',
        searchAttributes: Object.fromEntries(
          opts.searchAttributes.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)!]),
        ),
      });
    }
    return env;
  } catch (err) {
    await env.teardown();
    throw err;
  }
}

/**
 * The SDK gives the server 5 s to listen, then gives up (and kills it). On a 2-core machine
 * running a whole suite the JVM can miss that window; a new start on a new port usually makes it.
 */
async function startWithRetries(exe: string, attempts = 3): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: exe } },
      });
    } catch (err) {
      if (attempt >= attempts) throw err;
      process.stderr.write(`[time-skipping] the test server did not start (attempt ${attempt}): ${String(err)}\n`);
    }
  }
}

/** The workflow code for a test's Worker: the suite's prebuilt bundle when there is one (global setup), else the sources. */
export function workflowCode(): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  const bundle = process.env.TILLFLOW_TEST_WORKFLOW_BUNDLE;
  return bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath: require.resolve(WORKFLOWS_PATH) };
}

/** How long a wait may see the server's clock keep wall-clock pace before the leaked lock is released. */
const STALL_MS = 3000;

/**
 * Runs a wait that should skip time (a workflow's `result()`, `env.sleep`) on the Java test
 * server, guarding against a lock that server leaks.
 *
 * The leak (test server 1.38): when a child started with ParentClosePolicy.ABANDON completes
 * after its parent run has closed — a cash payment's drawer-kick print may, since the order can
 * finish first — the child's completion locks time skipping until the parent records it
 * ("processCompleteWorkflowExecution notify parent"), and a closed parent never does. From then
 * on the server skips no time while a test waits, so the wait hangs.
 *
 * So while the wait runs, the server's clock is watched: when it moves no faster than the wall
 * clock for STALL_MS although the wait unlocked skipping, one lock is released. Time then skips
 * as it should, and the lock the wait takes back when it returns stands in for the leaked one,
 * so the count stays balanced for the waits after it.
 */
export async function skipTime<T>(env: TestWorkflowEnvironment, wait: () => Promise<T>): Promise<T> {
  const service = env.connection.testService;
  if (!service) throw new Error('skipTime needs a time-skipping environment (createTimeSkippingEnv)');
  const serverNow = async () => tsToMs((await service.getCurrentTime({})).time);
  const stop = new AbortController();
  const watch = (async () => {
    while (!stop.signal.aborted) {
      const [server0, wall0] = [await serverNow(), Date.now()];
      await sleep(STALL_MS, undefined, { signal: stop.signal });
      const skipped = (await serverNow()) - server0 - (Date.now() - wall0);
      if (skipped > 500 || stop.signal.aborted) continue;
      process.stderr.write('[time-skipping] no time skipped for 3 s: releasing the lock the test server leaked\n');
      await service.unlockTimeSkipping({});
    }
  })();
  try {
    return await wait();
  } finally {
    stop.abort();
    await watch.catch(() => undefined); // the aborted sleep rejects: the watch is over
  }
}

// ---- cache ---------------------------------------------------------------------------------

function readValidCache(dir: string, version: string): Manifest | undefined {
  try {
    fs.accessSync(path.join(dir, WRAPPER), fs.constants.X_OK);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
    if (manifest.version !== version || !Array.isArray(manifest.jars) || manifest.jars.length === 0) return undefined;
    if (!manifest.jars.every((jar) => fs.existsSync(path.join(dir, 'lib', jar)))) return undefined;
    return manifest;
  } catch {
    return undefined;
  }
}

async function build(
  dir: string,
  version: string,
  env: NodeJS.ProcessEnv,
  progress: (line: string) => void,
): Promise<void> {
  const java = findJava(env);
  if (!java) throw missingTool('java', 'to run the time-skipping test server');
  const mvn = onPath('mvn', env);
  if (!mvn)
    throw missingTool(
      'mvn',
      `to fetch io.temporal:temporal-test-server:${version} from Maven Central (first run only)`,
    );

  fs.mkdirSync(path.dirname(dir), { recursive: true });
  removeLeftovers(dir);
  const staging = fs.mkdtempSync(`${dir}.staging-`);
  fs.chmodSync(staging, 0o755);
  try {
    const started = Date.now();
    progress(
      `resolving io.temporal:temporal-test-server:${version} and its runtime dependencies from Maven Central into ${dir} (first run only)…`,
    );
    fs.writeFileSync(path.join(staging, 'pom.xml'), pomFor(version));
    await run(
      mvn,
      [
        '-B',
        '-f',
        path.join(staging, 'pom.xml'),
        `${DEPENDENCY_PLUGIN}:copy-dependencies`,
        '-DincludeScope=runtime',
        `-DoutputDirectory=${path.join(staging, 'lib')}`,
      ],
      { cwd: staging, env, progress, what: 'mvn dependency:copy-dependencies', timeoutMs: 15 * 60_000 },
    );
    const jars = fs
      .readdirSync(path.join(staging, 'lib'))
      .filter((f) => f.endsWith('.jar'))
      .sort();
    if (!jars.includes(`temporal-test-server-${version}.jar`))
      throw new Error(`mvn did not produce temporal-test-server-${version}.jar in ${staging}/lib`);
    const bytes = jars.reduce((sum, jar) => sum + fs.statSync(path.join(staging, 'lib', jar)).size, 0);
    const resolveMs = Date.now() - started;
    progress(
      `resolved ${jars.length} jars (${(bytes / 1048576).toFixed(1)} MiB) in ${(resolveMs / 1000).toFixed(1)} s; making the startup archive…`,
    );

    const manifest: Manifest = {
      version,
      jars,
      java: null,
      cds: false,
      resolveMs,
      createdAt: new Date().toISOString(),
    };
    const cds = await makeCdsArchive(staging, jars, java, progress);
    manifest.cds = cds;
    manifest.java = java;
    writeAtomic(path.join(staging, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    writeAtomic(path.join(staging, WRAPPER), wrapperFor(version, jars), 0o755);

    publish(staging, dir);
    const published = readValidCache(dir, version);
    if (published?.cds && !cdsUsable(dir, published.jars, java)) {
      progress('the startup archive does not load here: the server starts without it (just slower)');
      fs.rmSync(path.join(dir, CDS_ARCHIVE), { force: true });
      writeAtomic(path.join(dir, MANIFEST), JSON.stringify({ ...published, cds: false }, null, 2) + '\n');
    }
    progress(
      `time-skipping test server ${version} ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${path.join(dir, WRAPPER)}`,
    );
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** Staging directories of builds that were killed (an hour old: no live build is that slow). */
function removeLeftovers(dir: string): void {
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  for (const name of fs.readdirSync(parent)) {
    if (!name.startsWith(`${base}.staging-`) && !name.startsWith(`${base}.stale-`)) continue;
    const leftover = path.join(parent, name);
    try {
      if (Date.now() - fs.statSync(leftover).mtimeMs > 3600_000) fs.rmSync(leftover, { recursive: true, force: true });
    } catch {
      /* gone already */
    }
  }
}

/** Renames a complete staging directory into place; a valid cache that appeared meanwhile wins. */
function publish(staging: string, dir: string): void {
  try {
    fs.renameSync(staging, dir);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  const existing = readValidCache(dir, JSON.parse(fs.readFileSync(path.join(staging, MANIFEST), 'utf8')).version);
  if (existing) return;
  // An unusable leftover (older layout, files deleted by hand): move it aside, then replace it.
  const aside = `${dir}.stale-${process.pid}-${Date.now()}`;
  fs.renameSync(dir, aside);
  fs.renameSync(staging, dir);
  fs.rmSync(aside, { recursive: true, force: true });
}

function pomFor(version: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by tillflow test/support/time-skipping.ts: resolves Temporal's Java test server and its runtime dependencies. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tillflow.test</groupId>
  <artifactId>temporal-test-server-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>${version}</version>
    </dependency>
    <dependency>
      <groupId>${SLF4J_BINDING.groupId}</groupId>
      <artifactId>${SLF4J_BINDING.artifactId}</artifactId>
      <version>${SLF4J_BINDING.version}</version>
    </dependency>
  </dependencies>
</project>
`;
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function wrapperFor(version: string, jars: string[]): string {
  return `#!/bin/sh
# Temporal time-skipping test server ${version} (io.temporal:temporal-test-server on the JVM).
# Generated by tillflow test/support/time-skipping.ts; started by @temporalio/testing as an
# 'existing-path' executable with: <port> [extra args]. exec: the SDK stops it with SIGKILL.
# It runs in its own directory: the classpath (and so the startup archive) is relative to it.
cd -- "$(dirname -- "$0")" || exit 1
if [ -n "\${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then java="$JAVA_HOME/bin/java"; else java=java; fi
if [ -f ${CDS_ARCHIVE} ]; then set -- -XX:SharedArchiveFile=${CDS_ARCHIVE} ${CDS_QUIET.join(' ')} ${MAIN_CLASS} "$@"; else set -- ${MAIN_CLASS} "$@"; fi
exec "$java" ${JVM_OPTS.map(shQuote).join(' ')} -cp ${shQuote(relativeClasspath(jars))} "$@"
`;
}

/**
 * Records the classes the server loads while starting into an AppCDS archive (Java 13+:
 * -XX:ArchiveClassesAtExit, written when the JVM exits on SIGTERM). Best effort: without it the
 * server still starts, just slower.
 */
async function makeCdsArchive(
  dir: string,
  jars: string[],
  java: JavaStamp,
  progress: (line: string) => void,
  archive = path.join(dir, CDS_ARCHIVE),
): Promise<boolean> {
  const started = Date.now();
  const partial = `${archive}.partial-${process.pid}`;
  fs.rmSync(partial, { force: true });
  const port = await freePort();
  // A classpath relative to the cache directory, which is also the working directory (here and in
  // the wrapper): JDK 17 checks the archive's classpath entries by the path they were given, so
  // this is what lets the archive made in the staging directory work after the rename.
  const child = spawn(
    java.path,
    [
      ...JVM_OPTS,
      `-XX:ArchiveClassesAtExit=${partial}`,
      '-Xlog:cds=off',
      '-Xlog:cds+dynamic=off',
      '-cp',
      relativeClasspath(jars),
      MAIN_CLASS,
      String(port),
    ],
    {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let gone = false;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => ((gone = true), resolve(code)));
    child.on('error', () => ((gone = true), resolve(-1)));
  });
  try {
    const up = await waitForPort(port, 60_000, () => gone);
    if (!up) throw new Error(`test server did not listen on ${port}: ${stderr.trim()}`);
    await sleep(300);
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 60_000)));
    const outcome = await Promise.race([exited, deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') throw new Error('test server did not exit after SIGTERM');
    if (!fs.existsSync(partial) || fs.statSync(partial).size === 0) throw new Error('no archive written');
    fs.renameSync(partial, archive);
    progress(`startup archive made in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return true;
  } catch (err) {
    child.kill('SIGKILL');
    fs.rmSync(partial, { force: true });
    progress(`no startup archive (the server starts without one, just slower): ${(err as Error).message}`);
    return false;
  }
}

function relativeClasspath(jars: string[]): string {
  return jars.map((jar) => `lib/${jar}`).join(path.delimiter);
}

/** The JVM really maps the archive for the wrapper's classpath (-Xshare:on fails instead of falling back). */
function cdsUsable(dir: string, jars: string[], java: JavaStamp): boolean {
  const res = spawnSync(
    java.path,
    [...JVM_OPTS, `-XX:SharedArchiveFile=${CDS_ARCHIVE}`, '-Xshare:on', '-cp', relativeClasspath(jars), '-version'],
    { cwd: dir, stdio: 'ignore', timeout: 30_000 },
  );
  return res.status === 0;
}

async function refreshCds(
  dir: string,
  manifest: Manifest,
  java: JavaStamp,
  progress: (line: string) => void,
): Promise<void> {
  progress(
    `${java.path} is not the java the startup archive was made with (${manifest.java ? `${manifest.java.path}, ${manifest.java.size} bytes` : 'none'}): remaking it…`,
  );
  const cds = (await makeCdsArchive(dir, manifest.jars, java, progress)) && cdsUsable(dir, manifest.jars, java);
  if (!cds) fs.rmSync(path.join(dir, CDS_ARCHIVE), { force: true });
  // Recorded either way, so a java that cannot make an archive is not asked again on every run.
  writeAtomic(path.join(dir, MANIFEST), JSON.stringify({ ...manifest, cds, java }, null, 2) + '\n');
}

// ---- helpers -------------------------------------------------------------------------------

/** The java the wrapper will run: $JAVA_HOME/bin/java, else `java` on PATH (resolved through links). */
function findJava(env: NodeJS.ProcessEnv): JavaStamp | undefined {
  const candidate =
    env.JAVA_HOME && isExecutable(path.join(env.JAVA_HOME, 'bin', 'java'))
      ? path.join(env.JAVA_HOME, 'bin', 'java')
      : onPath('java', env);
  if (!candidate) return undefined;
  const real = fs.realpathSync(candidate);
  const st = fs.statSync(real);
  return { path: real, size: st.size, mtimeMs: Math.round(st.mtimeMs) };
}

function sameJava(a: JavaStamp | null, b: JavaStamp): boolean {
  return a === null ? false : a.path === b.path && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

function missingTool(tool: 'java' | 'mvn', why: string): Error {
  const pkg =
    tool === 'java'
      ? 'a JDK or JRE 11+ (Debian: apt-get install openjdk-17-jre-headless)'
      : 'Maven (Debian: apt-get install maven)';
  return new Error(
    `Time-skipping workflow tests need \`${tool}\` on PATH ${why}; it was not found. Install ${pkg}${tool === 'java' ? ' or set JAVA_HOME' : ''}.`,
  );
}

function writeAtomic(file: string, content: string, mode = 0o644): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, content, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** Runs a build step, printing a heartbeat while it works and its last output lines if it fails. */
async function run(
  cmd: string,
  args: string[],
  o: { cwd: string; env: NodeJS.ProcessEnv; progress: (line: string) => void; what: string; timeoutMs: number },
): Promise<void> {
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    let downloads = 0;
    const onData = (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (!line.trim()) continue;
        if (/Download(ed|ing) from/.test(line)) downloads += 1;
        tail.push(line);
        if (tail.length > 40) tail.shift();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const heartbeat = setInterval(
      () => o.progress(`  … ${o.what}: ${Math.round((Date.now() - started) / 1000)} s, ${downloads} downloads so far`),
      15_000,
    );
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    child.on('error', (err) => {
      clearInterval(heartbeat);
      clearTimeout(timer);
      reject(new Error(`${o.what} could not start: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      clearInterval(heartbeat);
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `${o.what} failed (${signal ?? `exit ${code}`}) after ${Math.round((Date.now() - started) / 1000)} s:\n${tail.join('\n')}`,
          ),
        );
    });
  });
}

/** mkdir as a lock, so concurrent test workers download once; a lock older than its holder's build time is taken over. */
async function acquireLock(
  lockDir: string,
  done: () => boolean,
  progress: (line: string) => void,
): Promise<{ release(): void } | undefined> {
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  const staleMs = 20 * 60_000;
  let told = false;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'owner'), `${process.pid}\n`);
      return { release: () => fs.rmSync(lockDir, { recursive: true, force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (done()) return undefined;
    const owner = readLockOwner(lockDir);
    const age = lockAge(lockDir);
    if ((owner !== undefined && !isAlive(owner)) || age > staleMs) {
      fs.rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!told) {
      progress(`another process (pid ${owner ?? '?'}) is resolving the test server; waiting for it…`);
      told = true;
    }
    await sleep(500);
  }
}

function readLockOwner(lockDir: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(path.join(lockDir, 'owner'), 'utf8'), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function lockAge(lockDir: string): number {
  try {
    return Date.now() - fs.statSync(lockDir).mtimeMs;
  } catch {
    return 0;
  }
}

async function waitForPort(port: number, timeoutMs: number, givenUp: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !givenUp()) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return true;
    await sleep(50);
  }
  return false;
}

/** For a quick manual check: `node -r @swc-node/register test/support/time-skipping.ts`. */
if (require.main === module) {
  const t0 = Date.now();
  ensureTestServer()
    .then(async (exe) => {
      const t1 = Date.now();
      const env = await createTimeSkippingEnv();
      const t2 = Date.now();
      await env.teardown();
      console.log(JSON.stringify({ exe, ensureMs: t1 - t0, startMs: t2 - t1 }));
    })
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
