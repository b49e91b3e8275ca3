/**
 * `npm run sandbox`: the payment gateway simulators as one standalone process (cluster/sandbox.ts).
 * TILLFLOW_SANDBOX_PORT (default 8400: control API, then Stripe, Square, Daraja, Airtel on the next
 * four ports), TILLFLOW_SANDBOX_DIR (default $TILLFLOW_DATA_DIR/sandbox, else .data/sandbox) holds the
 * state file and sandbox.env, TILLFLOW_SANDBOX_WEBHOOK_BASE is the API that receives webhooks
 * (default: the one stored, else http://127.0.0.1:8000).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SANDBOX_DEFAULT_PORT, SANDBOX_ENV_FILE, startSandbox } from '../cluster/sandbox';

async function main(): Promise<void> {
  const env = process.env;
  const dir = path.resolve(env.TILLFLOW_SANDBOX_DIR || path.join(env.TILLFLOW_DATA_DIR || '.data', 'sandbox'));
  const portBase = env.TILLFLOW_SANDBOX_PORT ? Number(env.TILLFLOW_SANDBOX_PORT) : SANDBOX_DEFAULT_PORT;
  if (!Number.isInteger(portBase) || portBase < 1 || portBase > 65530)
    throw new Error(`TILLFLOW_SANDBOX_PORT=${env.TILLFLOW_SANDBOX_PORT} is not a port`);
  fs.mkdirSync(dir, { recursive: true });
  const firstRun = !fs.existsSync(path.join(dir, 'sandbox-state.bin'));
  const webhookBase = env.TILLFLOW_SANDBOX_WEBHOOK_BASE || (firstRun ? 'http://127.0.0.1:8000' : undefined);
  const sandbox = await startSandbox({ dir, portBase, webhookBase, progress: (l) => process.stderr.write(l + '\n') });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stdout.write(`sandbox stopping (${signal})\n`);
    void sandbox.close().then(() => process.exit(0));
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => stop(s));
  process.stdout.write(
    [
      `SANDBOX PAYMENTS: simulators only, no real money moves. State: ${dir}`,
      `  control    ${sandbox.controlUrl}/sandbox/env  /sandbox/charges  PUT /sandbox/webhook-base {"url"}`,
      `  webhooks   ${sandbox.env.PUBLIC_BASE_URL ?? '(none yet)'}`,
      `Point API and worker processes at it with these variables (also in ${path.join(dir, SANDBOX_ENV_FILE)}):`,
      ...Object.entries(sandbox.env).map(([k, v]) => `  ${k}=${v}`),
      'sandbox ready',
      '',
    ].join('\n'),
  );
}

main().catch((err: Error) => {
  process.stderr.write(`sandbox: ${err.message}\n`);
  process.exit(1);
});
