import * as path from 'node:path';
import { execFile } from 'node:child_process';

/** Everything a worker prints at start is JSON (pino); the SDK's expected "not polling" notice is not a warning. */
it('prints only JSON lines, and no "No workflows registered" warning, when a printing worker starts', async () => {
  const root = path.resolve(__dirname, '..');
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
    execFile(
      process.execPath,
      ['-r', '@swc-node/register', path.join(root, 'test', 'support', 'printing-worker-start.ts')],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
          TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE,
          LOG_LEVEL: 'info',
        },
        timeout: 90_000,
      },
      (err, out, errOut) =>
        err ? reject(new Error(`${err.message}\n${out}\n${errOut}`)) : resolve({ stdout: out, stderr: errOut }),
    ),
  );
  const lines = (stdout + stderr).split('\n').filter((l) => l.trim());
  expect(lines.filter((l) => !l.startsWith('{'))).toEqual([]);
  expect(lines.map((l) => JSON.parse(l)).filter((e) => e.level >= 40 && /No workflows registered/.test(e.msg))).toEqual(
    [],
  );
}, 120_000);
