import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';

/**
 * Run as root (as here), the embedded PostgreSQL runs as the `postgres` user. A private data dir
 * (mktemp -d: mode 0700, owned by root) is one that user cannot enter: the start must stop with
 * one clear sentence saying what to change, not a JSON log line with a stack trace from initdb.
 */
const ROOT = path.resolve(__dirname, '..');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** `npm start` from source (bin/start.ts) with only the embedded PostgreSQL to start. */
function start(dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', path.join(ROOT, 'bin', 'start.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      TILLFLOW_DATA_DIR: dataDir,
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
      TILLFLOW_TOKEN_SECRET: 'data-dir-secret-'.padEnd(40, 'x'),
      PORT: '0',
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

it('stops with one sentence naming the private directory when the postgres user cannot enter it', async () => {
  expect(process.getuid?.()).toBe(0); // the situation only exists for root
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-private-'));
  dirs.push(dataDir);
  expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
  const run = await start(dataDir);
  expect(run.code).toBe(1);
  const message = run.stderr.trim();
  expect(message.split('\n')).toHaveLength(1);
  expect(message).toContain(dataDir);
  expect(message).toContain('TILLFLOW_DATA_DIR');
  expect(run.stdout + run.stderr).not.toMatch(/^\s+at |"stack"/m);
  expect(fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(false);
}, 120_000);
