import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

/** Tools the project builds once per machine (Temporal CLI, stripe-mock, the Java test server) live here. */
export function toolCacheDir(tool: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'tillflow', tool);
}

export function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** A tool binary that answers `--version` with exit 0 runs on this machine. */
export function answersVersion(bin: string): boolean {
  return spawnSync(bin, ['--version'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

export function onPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/**
 * `go install module@version` into a staging GOBIN, streaming Go's progress (`-v` prints each
 * package as it compiles), then the binary is checked and moved into `target` atomically, so an
 * interrupted build never leaves a broken cache behind.
 */
export async function goInstallInto(opts: {
  go: string;
  module: string;
  version: string;
  binary: string;
  target: string;
  works: (bin: string) => boolean;
  progress: (line: string) => void;
  env: NodeJS.ProcessEnv;
  progressEvery?: number;
}): Promise<number> {
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), `tillflow-${opts.binary}-build-`));
  const started = Date.now();
  try {
    let steps = 0;
    await new Promise<void>((resolve, reject) => {
      const child = spawn(opts.go, ['install', '-v', `${opts.module}@${opts.version}`], {
        env: { ...opts.env, GOBIN: staging, GOFLAGS: opts.env.GOFLAGS ?? '' },
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
          steps += 1;
          if (steps % (opts.progressEvery ?? 25) === 0 || line.startsWith('go: downloading')) {
            opts.progress(`  [${Math.round((Date.now() - started) / 1000)}s] ${steps} steps… ${line}`);
          }
        }
      });
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`go install ${opts.module}@${opts.version} failed (exit ${code}):\n${tail.join('\n')}`)),
      );
    });
    const built = path.join(staging, opts.binary);
    if (!opts.works(built)) throw new Error(`built ${opts.binary} at ${built} does not run`);
    installBinary(built, opts.target);
    return Math.round((Date.now() - started) / 1000);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Copies a checked binary into `target` under a temporary name of this process's own, then
 * renames it into place: two installers at once each rename a whole copy (the last one wins).
 */
export function installBinary(built: string, target: string): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  fs.copyFileSync(built, partial);
  fs.chmodSync(partial, 0o755);
  fs.renameSync(partial, target);
}
