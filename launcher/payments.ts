import { randomBytes } from 'node:crypto';
import type { Gateways, SquareConfig, StripeConfig } from '../core/gateway';
import { ensureStripeMock } from '../platform/stripe-mock';
import type { GatewayKey } from '../core/payment';
import { createMpesaGateway, mpesaConfigFromEnv } from '../activities/payments/mpesa';
import { airtelConfigFromEnv, createAirtelGateway } from '../activities/payments/airtel';
import { createSquareGateway, squareConfigFromEnv } from '../activities/payments/square';
import { createStripeGateway, stripeConfigFromEnv } from '../activities/payments/stripe';
import { createQrGateway } from '../activities/payments/qr';
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
  const closers: Array<() => Promise<void>> = [];
  const attachers: Array<(url: string) => void> = [];
  const simulators: PaymentSetup['simulators'] = {};
  let airtelCallbackToken = env.AIRTEL_CALLBACK_TOKEN;
  const qrOptions = (base: string) => ({ successUrl: `${base}/pay/done`, cancelUrl: `${base}/pay/done?cancelled=1` });

  // Stripe (card) and QR (Stripe Checkout) share one account.
  let stripeCfg: StripeConfig | undefined;
  if (has(env, 'STRIPE_SECRET_KEY')) {
    stripeCfg = stripeConfigFromEnv(env);
    modes.stripe = modes.qr = 'live';
  } else if (opts.sandbox) {
    const { startStripeSimulator } = await import('../simulators/stripe');
    const sim = await startStripeSimulator({ stripeMockBin: (await ensureStripeMock(env)).path });
    simulators.stripe = sim;
    closers.push(() => sim.close());
    attachers.push((base) => sim.setWebhookUrl(`${base}/webhooks/stripe`));
    stripeCfg = sim.config();
    modes.stripe = modes.qr = 'sandbox';
  }
  if (stripeCfg) {
    gateways.stripe = createStripeGateway(stripeCfg);
    const qrCfg = { ...qrOptions(opts.publicBaseUrl ?? 'http://127.0.0.1') };
    gateways.qr = createQrGateway(stripeCfg, qrCfg);
    attachers.push((base) => Object.assign(qrCfg, qrOptions(base)));
  }

  let squareCfg: SquareConfig | undefined;
  if (has(env, 'SQUARE_ACCESS_TOKEN')) {
    squareCfg = squareConfigFromEnv(env);
    modes.square = 'live';
  } else if (opts.sandbox) {
    const { startSquareSimulator } = await import('../simulators/square');
    const sim = await startSquareSimulator();
    simulators.square = sim;
    closers.push(() => sim.close());
    squareCfg = sim.config();
    const cfg = squareCfg;
    attachers.push((base) => {
      cfg.webhookUrl = `${base}/webhooks/square`;
      sim.setWebhookUrl(cfg.webhookUrl);
    });
    modes.square = 'sandbox';
  }
  if (squareCfg) gateways.square = createSquareGateway(squareCfg);

  const mpesaCfg = mpesaConfigFromEnv(env);
  if (mpesaCfg) {
    gateways.mpesa = createMpesaGateway(mpesaCfg);
    modes.mpesa = 'live';
  } else if (opts.sandbox) {
    const { DARAJA_SIM_DEFAULTS, startDarajaSimulator } = await import('../simulators/daraja');
    const sim = await startDarajaSimulator();
    simulators.daraja = sim;
    closers.push(() => sim.close());
    gateways.mpesa = createMpesaGateway({
      baseUrl: sim.url,
      ...DARAJA_SIM_DEFAULTS,
      sandbox: true,
      initiatorName: 'testapi',
      initiatorPassword: 'Safaricom999!*!',
      resultUrl: 'http://127.0.0.1:9/mpesa-result',
    });
    modes.mpesa = 'sandbox';
  }

  const airtelCfg = airtelConfigFromEnv(env);
  if (airtelCfg) {
    gateways.airtel = createAirtelGateway(airtelCfg);
    modes.airtel = 'live';
  } else if (opts.sandbox) {
    const { AIRTEL_SIM_DEFAULTS, startAirtelSimulator } = await import('../simulators/airtel');
    const sim = await startAirtelSimulator();
    simulators.airtel = sim;
    closers.push(() => sim.close());
    airtelCallbackToken ??= randomBytes(18).toString('base64url');
    const token = airtelCallbackToken;
    attachers.push((base) => (sim.callbackUrl = `${base}/webhooks/airtel/${token}`));
    gateways.airtel = createAirtelGateway({ baseUrl: sim.url, ...AIRTEL_SIM_DEFAULTS, sandbox: true });
    modes.airtel = 'sandbox';
  }

  const sandboxed = Object.entries(modes)
    .filter(([, m]) => m === 'sandbox')
    .map(([g]) => g);
  if (sandboxed.length) {
    opts.logger.warn(
      { gateways: sandboxed },
      `SANDBOX PAYMENTS: ${sandboxed.join(', ')} run against local simulators; no real money moves. Set their credentials to go live.`,
    );
  }
  return {
    gateways,
    modes,
    airtelCallbackToken,
    simulators,
    attach: (base) => attachers.forEach((a) => a(base.replace(/\/+$/, ''))),
    close: async () => {
      await Promise.allSettled(closers.map((c) => c()));
    },
  };
}
