import { randomBytes } from 'node:crypto';
import type { Gateways, SquareConfig, StripeConfig } from '../core/gateway';
import { ensureStripeMock } from '../platform/stripe-mock';
import type { GatewayKey } from '../core/payment';
import { MpesaGateway, type MpesaConfig } from '../activities/payments/mpesa';
import { AirtelGateway, type AirtelConfig } from '../activities/payments/airtel';
import { SquareGateway } from '../activities/payments/square';
import { StripeGateway } from '../activities/payments/stripe';
import { QrGateway, type QrOptions } from '../activities/payments/qr';
// Types only: the simulators themselves are loaded (dynamic import) only when the sandbox is on,
// so a production process does not even contain them.
import type { DarajaSim } from '../simulators/daraja';
import type { AirtelSim } from '../simulators/airtel';
import type { SquareSim } from '../simulators/square';
import type { StripeSim } from '../simulators/stripe';
import type { Logger } from '../platform/logger';

export type GatewayMode = 'live' | 'sandbox' | 'off';

export interface PaymentSetup {
  gateways: Gateways;
  modes: Record<GatewayKey, GatewayMode>;
  /** Airtel's one registered callback URL ends with this token. */
  airtelCallbackToken?: string;
  /** The sandbox simulators (tests script them). */
  simulators: { stripe?: StripeSim; square?: SquareSim; daraja?: DarajaSim; airtel?: AirtelSim };
  /** Call once the API listens: points the simulators' webhooks at it. */
  attach(publicBaseUrl: string): void;
  close(): Promise<void>;
}

const has = (env: NodeJS.ProcessEnv, ...names: string[]) => names.some((n) => !!env[n]);

/** What a provider's setup may add to: the simulators it started and what to do once the API listens. */
interface SetupContext {
  env: NodeJS.ProcessEnv;
  publicBaseUrl?: string;
  closers: Array<() => Promise<void>>;
  attachers: Array<(url: string) => void>;
  simulators: PaymentSetup['simulators'];
  airtelCallbackToken?: string;
}

/**
 * One entry per provider account: its configuration from the environment (live) or from a local
 * simulator (sandbox), and the adapters it builds from that configuration, one class per gateway key.
 */
interface GatewayProvider<C> {
  /** The adapter classes it builds (Stripe's account serves card and QR). */
  classes: ReadonlyArray<{ readonly identifier: GatewayKey }>;
  live(env: NodeJS.ProcessEnv): C | undefined;
  sandbox(ctx: SetupContext): Promise<C>;
  build(cfg: C, ctx: SetupContext): Gateways;
}

const qrOptions = (base: string): QrOptions => ({
  successUrl: `${base}/pay/done`,
  cancelUrl: `${base}/pay/done?cancelled=1`,
});

const stripeProvider: GatewayProvider<StripeConfig> = {
  classes: [StripeGateway, QrGateway],
  live: (env) => (has(env, 'STRIPE_SECRET_KEY') ? StripeGateway.configFromEnv(env) : undefined),
  async sandbox(ctx) {
    const { startStripeSimulator } = await import('../simulators/stripe');
    const sim = await startStripeSimulator({ stripeMockBin: (await ensureStripeMock(ctx.env)).path });
    ctx.simulators.stripe = sim;
    ctx.closers.push(() => sim.close());
    ctx.attachers.push((base) => sim.setWebhookUrl(`${base}/webhooks/stripe`));
    return sim.config();
  },
  build(cfg, ctx) {
    const qrCfg = qrOptions(ctx.publicBaseUrl ?? 'http://127.0.0.1');
    ctx.attachers.push((base) => Object.assign(qrCfg, qrOptions(base)));
    return { stripe: new StripeGateway(cfg), qr: new QrGateway(cfg, qrCfg) };
  },
};

const squareProvider: GatewayProvider<SquareConfig> = {
  classes: [SquareGateway],
  live: (env) => (has(env, 'SQUARE_ACCESS_TOKEN') ? SquareGateway.configFromEnv(env) : undefined),
  async sandbox(ctx) {
    const { startSquareSimulator } = await import('../simulators/square');
    const sim = await startSquareSimulator();
    ctx.simulators.square = sim;
    ctx.closers.push(() => sim.close());
    const cfg = sim.config();
    ctx.attachers.push((base) => {
      cfg.webhookUrl = `${base}/webhooks/square`;
      sim.setWebhookUrl(cfg.webhookUrl);
    });
    return cfg;
  },
  build: (cfg) => ({ square: new SquareGateway(cfg) }),
};

const mpesaProvider: GatewayProvider<MpesaConfig> = {
  classes: [MpesaGateway],
  live: (env) => MpesaGateway.configFromEnv(env),
  async sandbox(ctx) {
    const { DARAJA_SIM_DEFAULTS, startDarajaSimulator } = await import('../simulators/daraja');
    const sim = await startDarajaSimulator();
    ctx.simulators.daraja = sim;
    ctx.closers.push(() => sim.close());
    return {
      baseUrl: sim.url,
      ...DARAJA_SIM_DEFAULTS,
      sandbox: true,
      initiatorName: 'testapi',
      initiatorPassword: 'Safaricom999!*!',
      resultUrl: 'http://127.0.0.1:9/mpesa-result',
    };
  },
  build: (cfg) => ({ mpesa: new MpesaGateway(cfg) }),
};

const airtelProvider: GatewayProvider<AirtelConfig> = {
  classes: [AirtelGateway],
  live: (env) => AirtelGateway.configFromEnv(env),
  async sandbox(ctx) {
    const { AIRTEL_SIM_DEFAULTS, startAirtelSimulator } = await import('../simulators/airtel');
    const sim = await startAirtelSimulator();
    ctx.simulators.airtel = sim;
    ctx.closers.push(() => sim.close());
    ctx.airtelCallbackToken ??= randomBytes(18).toString('base64url');
    const token = ctx.airtelCallbackToken;
    ctx.attachers.push((base) => (sim.callbackUrl = `${base}/webhooks/airtel/${token}`));
    return { baseUrl: sim.url, ...AIRTEL_SIM_DEFAULTS, sandbox: true };
  },
  build: (cfg) => ({ airtel: new AirtelGateway(cfg) }),
};

/** A provider with its configuration type hidden, so providers of different configurations share one list. */
interface RegisteredProvider {
  classes: GatewayProvider<unknown>['classes'];
  /** Its adapters and whether they are live; undefined when it is neither configured nor sandboxed. */
  setup(ctx: SetupContext, sandbox: boolean): Promise<{ gateways: Gateways; live: boolean } | undefined>;
}

function register<C>(p: GatewayProvider<C>): RegisteredProvider {
  return {
    classes: p.classes,
    async setup(ctx, sandbox) {
      const live = p.live(ctx.env);
      const cfg = live ?? (sandbox ? await p.sandbox(ctx) : undefined);
      return cfg === undefined ? undefined : { gateways: p.build(cfg, ctx), live: live !== undefined };
    },
  };
}

/** The registered providers, in the order their simulators start. A new gateway is one more entry here. */
const PROVIDERS: readonly RegisteredProvider[] = [
  register(stripeProvider),
  register(squareProvider),
  register(mpesaProvider),
  register(airtelProvider),
];

/**
 * Builds one adapter per gateway: against the real API where credentials are configured, else
 * (sandbox: the default for `npm start`, never implied under NODE_ENV=production — see
 * Config.paymentsSandbox) against a local simulator that speaks the gateway's HTTP
 * API on loopback, so every method can be tried offline. Sandbox adapters mark their payments
 * `sandbox: true`.
 */
export async function setupPayments(
  env: NodeJS.ProcessEnv,
  opts: { sandbox: boolean; publicBaseUrl?: string; logger: Logger },
): Promise<PaymentSetup> {
  const gateways: Gateways = {};
  const modes = { square: 'off', stripe: 'off', qr: 'off', mpesa: 'off', airtel: 'off' } as Record<
    GatewayKey,
    GatewayMode
  >;
  const ctx: SetupContext = {
    env,
    publicBaseUrl: opts.publicBaseUrl,
    closers: [],
    attachers: [],
    simulators: {},
    airtelCallbackToken: env.AIRTEL_CALLBACK_TOKEN,
  };
  for (const provider of PROVIDERS) {
    const built = await provider.setup(ctx, opts.sandbox);
    if (!built) continue;
    Object.assign(gateways, built.gateways);
    for (const c of provider.classes) modes[c.identifier] = built.live ? 'live' : 'sandbox';
  }
  warnSandboxed(modes, opts.logger);
  return {
    gateways,
    modes,
    airtelCallbackToken: ctx.airtelCallbackToken,
    simulators: ctx.simulators,
    attach: (base) => ctx.attachers.forEach((a) => a(base.replace(/\/+$/, ''))),
    close: async () => {
      await Promise.allSettled(ctx.closers.map((c) => c()));
    },
  };
}

function warnSandboxed(modes: Record<GatewayKey, GatewayMode>, logger: Logger): void {
  const sandboxed = Object.entries(modes)
    .filter(([, m]) => m === 'sandbox')
    .map(([g]) => g);
  if (sandboxed.length) {
    logger.warn(
      { gateways: sandboxed },
      `SANDBOX PAYMENTS: ${sandboxed.join(', ')} run against local simulators; no real money moves. Set their credentials to go live.`,
    );
  }
}
