import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError, loadConfig } from '../platform/config';

/**
 * A production server without a gateway's credentials must not quietly take "payments" against a
 * local simulator: under NODE_ENV=production the sandbox is off unless asked for explicitly, and
 * the simulators are not even loaded.
 */
const ROOT = path.resolve(__dirname, '..');
const base = { TILLFLOW_TOKEN_SECRET: 'sandbox-test-secret-'.padEnd(40, 'x') };

describe('TILLFLOW_PAYMENTS_SANDBOX', () => {
  it('is off under NODE_ENV=production when unset', () => {
    expect(loadConfig({ ...base, NODE_ENV: 'production' }).paymentsSandbox).toBe(false);
  });

  it('is on under NODE_ENV=production only when set to true explicitly', () => {
    expect(loadConfig({ ...base, NODE_ENV: 'production', TILLFLOW_PAYMENTS_SANDBOX: 'true' }).paymentsSandbox).toBe(
      true,
    );
  });

  it('is on by default outside production (npm start to try it out)', () => {
    expect(loadConfig({ ...base }).paymentsSandbox).toBe(true);
    expect(loadConfig({ ...base, TILLFLOW_PAYMENTS_SANDBOX: 'false' }).paymentsSandbox).toBe(false);
  });

  it('refuses a value other than true or false', () => {
    expect(() => loadConfig({ ...base, TILLFLOW_PAYMENTS_SANDBOX: 'yes' })).toThrow(ConfigError);
  });
});

/** Runs setupPayments in a fresh Node process and reports its modes and which simulator modules got loaded. */
function setupInFreshProcess(env: Record<string, string>): {
  modes: Record<string, string>;
  gateways: string[];
  simulatorModules: string[];
} {
  const script = `
    const { loadConfig } = require('./platform/config');
    const { setupPayments } = require('./launcher/payments');
    const { logger } = require('./platform/logger');
    (async () => {
      const config = loadConfig(process.env);
      const p = await setupPayments(process.env, { sandbox: config.paymentsSandbox, logger });
      const simulatorModules = Object.keys(require.cache).filter((f) => f.includes('${path.sep}simulators${path.sep}')).map((f) => require('path').relative(process.cwd(), f));
      await p.close();
      process.stdout.write('RESULT ' + JSON.stringify({ modes: p.modes, gateways: Object.keys(p.gateways), simulatorModules }) + '\\n');
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const res = spawnSync(process.execPath, ['-r', '@swc-node/register', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'silent', ...base, ...env },
    timeout: 120_000,
  });
  const line = res.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`setupPayments failed: ${res.status}\n${res.stdout}\n${res.stderr}`);
  return JSON.parse(line.slice(7));
}

describe('payment setup under NODE_ENV=production without credentials', () => {
  it('turns every gateway off and loads no simulator', () => {
    const r = setupInFreshProcess({ NODE_ENV: 'production' });
    expect(r.modes).toEqual({ square: 'off', stripe: 'off', qr: 'off', mpesa: 'off', airtel: 'off' });
    expect(r.gateways).toEqual([]);
    expect(r.simulatorModules).toEqual([]);
  });
});
