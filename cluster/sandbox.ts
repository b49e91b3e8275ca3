import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startStripeSimulator, type GatewayScript, type StripeSim } from '../simulators/stripe';
import { startSquareSimulator, type SquareSim } from '../simulators/square';
import { DARAJA_SIM_DEFAULTS, startDarajaSimulator, type DarajaSim } from '../simulators/daraja';
import { AIRTEL_SIM_DEFAULTS, startAirtelSimulator, type AirtelSim } from '../simulators/airtel';
import { openFileState, type FileState } from './sandbox-state';
import { ensureStripeMock } from '../platform/stripe-mock';

/**
 * The gateway simulators as one standalone process (`npm run sandbox`): fixed ports, state in a
 * file under its data dir, so any number of API and worker processes share them through the
 * ordinary gateway variables (the ones a live deployment sets) and a worker or API replica can
 * die without taking the simulators, or what they know, with it.
 */

/** Ports from a base: control API, Stripe, Square, Daraja (M-Pesa), Airtel. */
export const SANDBOX_DEFAULT_PORT = 8400;
export interface SandboxPorts {
  control: number;
  stripe: number;
  square: number;
  daraja: number;
  airtel: number;
}
export const sandboxPorts = (base: number): SandboxPorts => ({
  control: base,
  stripe: base + 1,
  square: base + 2,
  daraja: base + 3,
  airtel: base + 4,
});

export interface SandboxOptions {
  /** Directory of the state file (and sandbox.env). */
  dir: string;
  portBase?: number;
  /** Where webhooks and callbacks go: an API replica's base URL (PUBLIC_BASE_URL). */
  webhookBase?: string;
  progress?: (line: string) => void;
}

export interface RunningSandbox {
  ports: SandboxPorts;
  controlUrl: string;
  /** The variables that point a Tillflow process at this sandbox. */
  env: Record<string, string>;
  stripe: StripeSim;
  square: SquareSim;
  daraja: DarajaSim;
  airtel: AirtelSim;
  setWebhookBase(url: string): void;
  close(): Promise<void>;
}

const STATE_FILE = 'sandbox-state.bin';
export const SANDBOX_ENV_FILE = 'sandbox.env';

/** Secrets are made once and kept in the state file: clients configured earlier keep working. */
function secret(state: FileState, name: string, make: () => string): string {
  return (state.meta[name] ??= make());
}

export async function startSandbox(opts: SandboxOptions): Promise<RunningSandbox> {
  const ports = sandboxPorts(opts.portBase ?? SANDBOX_DEFAULT_PORT);
  const state = openFileState(path.join(opts.dir, STATE_FILE));
  if (opts.webhookBase) state.meta.webhookBase = opts.webhookBase;
  const closers: Array<() => Promise<void>> = [];
  try {
    const stripe = await startStripeSimulator({
      port: ports.stripe,
      state,
      secretKey: secret(state, 'stripeSecretKey', () => `sk_test_${randomBytes(12).toString('hex')}`),
      webhookSecret: secret(state, 'stripeWebhookSecret', () => `whsec_${randomBytes(16).toString('hex')}`),
      stripeMockBin: (await ensureStripeMock(process.env, opts.progress)).path,
    });
    closers.push(() => stripe.close());
    const square = await startSquareSimulator({
      port: ports.square,
      state,
      accessToken: secret(state, 'squareAccessToken', () => `EAAA${randomBytes(24).toString('hex')}`),
      locationId: secret(state, 'squareLocationId', () => `L${randomBytes(6).toString('hex').toUpperCase()}`),
      webhookSignatureKey: secret(state, 'squareSignatureKey', () => randomBytes(16).toString('base64url')),
    });
    closers.push(() => square.close());
    const daraja = await startDarajaSimulator({ port: ports.daraja, state });
    closers.push(() => daraja.close());
    const airtel = await startAirtelSimulator({ port: ports.airtel, state });
    closers.push(() => airtel.close());
    const airtelToken = secret(state, 'airtelCallbackToken', () => randomBytes(18).toString('base64url'));

    const setWebhookBase = (raw: string) => {
      const base = raw.replace(/\/+$/, '');
      state.meta.webhookBase = base;
      stripe.setWebhookUrl(`${base}/webhooks/stripe`);
      square.setWebhookUrl(`${base}/webhooks/square`);
      airtel.callbackUrl = `${base}/webhooks/airtel/${airtelToken}`;
      state.flush();
      fs.writeFileSync(path.join(opts.dir, SANDBOX_ENV_FILE), envFile(env()));
    };
    const env = (): Record<string, string> =>
      clientEnv({ ports, stripe, square, airtelToken, webhookBase: state.meta.webhookBase });
    if (state.meta.webhookBase) setWebhookBase(state.meta.webhookBase);

    const control = await startControlServer(ports.control, {
      env,
      setWebhookBase,
      script: (gateway, match, script) => (gateway === 'stripe' ? stripe : square).script(match, script),
      charges: () => charges({ stripe, square, daraja, airtel }),
    });
    closers.push(control);
    fs.writeFileSync(path.join(opts.dir, SANDBOX_ENV_FILE), envFile(env()));
    return {
      ports,
      controlUrl: `http://127.0.0.1:${ports.control}`,
      get env() {
        return env();
      },
      stripe,
      square,
      daraja,
      airtel,
      setWebhookBase,
      close: async () => {
        await closeAll(closers);
        state.close();
      },
    };
  } catch (err) {
    await closeAll(closers);
    state.close();
    throw err;
  }
}

async function closeAll(closers: Array<() => Promise<void>>): Promise<void> {
  await Promise.allSettled(closers.reverse().map((c) => c()));
}

/** Exactly what a Tillflow process needs to use the sandbox: the gateways' documented variables. */
function clientEnv(s: {
  ports: SandboxPorts;
  stripe: StripeSim;
  square: SquareSim;
  airtelToken: string;
  webhookBase?: string;
}): Record<string, string> {
  const local = (port: number) => `http://127.0.0.1:${port}`;
  return {
    STRIPE_SECRET_KEY: s.stripe.secretKey,
    STRIPE_WEBHOOK_SECRET: s.stripe.webhookSecret,
    STRIPE_HOST: '127.0.0.1',
    STRIPE_PORT: String(s.ports.stripe),
    STRIPE_PROTOCOL: 'http',
    SQUARE_ACCESS_TOKEN: s.square.accessToken,
    SQUARE_LOCATION_ID: s.square.locationId,
    SQUARE_WEBHOOK_SIGNATURE_KEY: s.square.webhookSignatureKey,
    SQUARE_BASE_URL: local(s.ports.square),
    MPESA_BASE_URL: local(s.ports.daraja),
    MPESA_CONSUMER_KEY: DARAJA_SIM_DEFAULTS.consumerKey,
    MPESA_CONSUMER_SECRET: DARAJA_SIM_DEFAULTS.consumerSecret,
    MPESA_SHORTCODE: DARAJA_SIM_DEFAULTS.shortCode,
    MPESA_PASSKEY: DARAJA_SIM_DEFAULTS.passkey,
    MPESA_SANDBOX: 'true',
    // The same reversal initiator the in-process sandbox uses (platform/payments.ts).
    MPESA_INITIATOR_NAME: 'testapi',
    MPESA_INITIATOR_PASSWORD: 'Safaricom999!*!',
    MPESA_RESULT_URL: 'http://127.0.0.1:9/mpesa-result',
    AIRTEL_BASE_URL: local(s.ports.airtel),
    AIRTEL_CLIENT_ID: AIRTEL_SIM_DEFAULTS.clientId,
    AIRTEL_CLIENT_SECRET: AIRTEL_SIM_DEFAULTS.clientSecret,
    AIRTEL_COUNTRY: AIRTEL_SIM_DEFAULTS.country,
    AIRTEL_CURRENCY: AIRTEL_SIM_DEFAULTS.currency,
    AIRTEL_SANDBOX: 'true',
    AIRTEL_CALLBACK_TOKEN: s.airtelToken,
    // Square signs the notification URL: the API must know the one webhooks are sent to.
    ...(s.webhookBase ? { PUBLIC_BASE_URL: s.webhookBase } : {}),
  };
}

export function envFile(env: Record<string, string>): string {
  return (
    Object.entries(env)
      .map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'`)
      .join('\n') + '\n'
  );
}

/** Every charge and refund the simulators hold, for checks against the database ("one payment per charge"). */
function charges(s: { stripe: StripeSim; square: SquareSim; daraja: DarajaSim; airtel: AirtelSim }) {
  return {
    stripe: {
      paymentIntents: s.stripe.paymentIntents(),
      refunds: s.stripe.refunds(),
      webhooks: s.stripe.webhooks().map((w) => ({
        type: w.type,
        status: w.status,
        objectId: (JSON.parse(w.body) as { data: { object: { id: string } } }).data.object.id,
      })),
    },
    square: { payments: s.square.payments(), refunds: s.square.refunds() },
    mpesa: {
      pushes: [...s.daraja.pushes.values()].map(({ script: _s, ...p }) => p),
      reversals: [...s.daraja.reversals.values()],
    },
    airtel: { payments: [...s.airtel.payments.values()] },
  };
}

interface Control {
  env(): Record<string, string>;
  setWebhookBase(url: string): void;
  script(gateway: 'stripe' | 'square', match: number | string, script: GatewayScript): void;
  charges(): unknown;
}

/**
 * Loopback-only control API: GET /sandbox/env, GET /sandbox/charges, PUT /sandbox/webhook-base
 * {"url"}, PUT /sandbox/script {"gateway": "stripe"|"square", "match": amount or payment id,
 * "script"} (what a card does, as the simulators' tests script it; scripts live in memory only).
 * Unscripted payments follow each simulator's sandbox rules (test card numbers, phone numbers).
 */
async function startControlServer(port: number, c: Control): Promise<() => Promise<void>> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
      if (body.length > 10_000) req.destroy();
    });
    req.on('end', () => {
      const reply = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const route = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`;
      if (route === 'GET /sandbox/env') return reply(200, c.env());
      if (route === 'GET /sandbox/charges') return reply(200, c.charges());
      if (route === 'PUT /sandbox/webhook-base') {
        const url = parseUrl(body);
        if (!url) return reply(422, { detail: 'body must be {"url": "http(s)://…"}' });
        c.setWebhookBase(url);
        return reply(200, c.env());
      }
      if (route === 'PUT /sandbox/script') {
        const parsed = parseScript(body);
        if (!parsed)
          return reply(422, {
            detail: 'body must be {"gateway": "stripe"|"square", "match": number|string, "script": {"outcome", …}}',
          });
        c.script(parsed.gateway, parsed.match, parsed.script);
        return reply(200, parsed);
      }
      return reply(404, {
        detail: 'GET /sandbox/env, GET /sandbox/charges, PUT /sandbox/webhook-base, PUT /sandbox/script',
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

const OUTCOMES = ['success', 'decline', 'timeout', 'abandon'];

function parseScript(
  body: string,
): { gateway: 'stripe' | 'square'; match: number | string; script: GatewayScript } | undefined {
  try {
    const v = JSON.parse(body) as { gateway?: unknown; match?: unknown; script?: { outcome?: unknown } };
    const okGateway = v.gateway === 'stripe' || v.gateway === 'square';
    const okMatch = (typeof v.match === 'number' && Number.isInteger(v.match)) || typeof v.match === 'string';
    const okScript = typeof v.script === 'object' && v.script !== null && OUTCOMES.includes(v.script.outcome as string);
    return okGateway && okMatch && okScript
      ? (v as { gateway: 'stripe' | 'square'; match: number | string; script: GatewayScript })
      : undefined;
  } catch {
    return undefined;
  }
}

function parseUrl(body: string): string | undefined {
  try {
    const url = (JSON.parse(body) as { url?: unknown }).url;
    return typeof url === 'string' && /^https?:\/\/[^\s]+$/.test(url) ? url : undefined;
  } catch {
    return undefined;
  }
}
