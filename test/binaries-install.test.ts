import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Two processes can install the same cached binary at once (two `npm test` shards, `npm start`
 * beside a test run, two launchers on one Pi): each must end with the binary in place, and
 * neither may trip over the other's half-copied file.
 */
const installer = `
  const { installBinary } = require(${JSON.stringify(path.join(__dirname, '../platform/binaries'))});
  const [built, target] = process.argv.slice(-2);
  for (let i = 0; i < 100; i++) installBinary(built, target);
`;

function install(built: string, target: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', '-e', installer, built, target], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

it('installs one binary from two processes at once', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-install-'));
  const built = path.join(dir, 'built');
  fs.writeFileSync(built, Buffer.alloc(4 << 20, 7));
  const target = path.join(dir, 'cache', 'tool');
  const results = await Promise.all([install(built, target), install(built, target)]);
  expect(results).toEqual([
    { code: 0, stderr: '' },
    { code: 0, stderr: '' },
  ]);
  expect(fs.statSync(target).size).toBe(4 << 20);
  expect(fs.statSync(target).mode & 0o111).toBe(0o111);
  expect(fs.readdirSync(path.dirname(target))).toEqual(['tool']);
  fs.rmSync(dir, { recursive: true, force: true });
});
