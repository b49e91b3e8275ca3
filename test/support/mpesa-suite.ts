import { createMpesaGateway, type MpesaConfig } from '../../activities/payments/mpesa';
import { startDarajaSimulator, DARAJA_SIM_DEFAULTS, type DarajaSim } from '../../simulators/daraja';
import { startHarness, type Harness } from './harness';
import { paymentSuite, type PaymentSuite } from './payment-suite';
import { setShopCurrency } from './payments';

/** The sandbox initiator the Daraja simulator accepts for reversals. */
export const DARAJA_SIM_INITIATOR = {
  initiatorName: 'testapi',
  initiatorPassword: 'Safaricom999!*!',
  resultUrl: 'http://127.0.0.1:9/unused',
};

/**
 * The paymentSuite of the M-Pesa tests: the Daraja simulator, the M-Pesa gateway in sandbox mode
 * (with `gateway` on top), the shop in KES and the Burger at KES 10.
 */
export const mpesaSuite = (
  opts: { env?: Record<string, string>; gateway?: Partial<MpesaConfig> } = {},
): PaymentSuite<DarajaSim> =>
  paymentSuite({
    start: () => startDarajaSimulator(),
    gateways: (sim) => ({
      mpesa: createMpesaGateway({ baseUrl: sim.url, ...DARAJA_SIM_DEFAULTS, sandbox: true, ...opts.gateway }),
    }),
    env: opts.env,
    currency: 'KES',
    burgerPrice: 1000,
  });

/** The environment a worker process needs to take M-Pesa payments at the Daraja simulator (with the reversal initiator when given). */
export function darajaWorkerEnv(sim: DarajaSim, initiator?: typeof DARAJA_SIM_INITIATOR): Record<string, string> {
  return {
    TILLFLOW_PAYMENTS_SANDBOX: 'false',
    MPESA_BASE_URL: sim.url,
    MPESA_CONSUMER_KEY: DARAJA_SIM_DEFAULTS.consumerKey,
    MPESA_CONSUMER_SECRET: DARAJA_SIM_DEFAULTS.consumerSecret,
    MPESA_SHORTCODE: DARAJA_SIM_DEFAULTS.shortCode,
    MPESA_PASSKEY: DARAJA_SIM_DEFAULTS.passkey,
    MPESA_SANDBOX: 'true',
    ...(initiator && {
      MPESA_INITIATOR_NAME: initiator.initiatorName,
      MPESA_INITIATOR_PASSWORD: initiator.initiatorPassword,
      MPESA_RESULT_URL: initiator.resultUrl,
    }),
  };
}

/**
 * For suites that keep their own beforeAll: the Daraja simulator and a harness whose M-Pesa
 * gateway points at it (sandbox, with `gateway` on top), the shop in KES and the Burger at KES 10
 * (M-Pesa takes whole shillings). The caller closes both.
 */
export async function startMpesaShop(
  env: Record<string, string>,
  gateway: Partial<MpesaConfig> = {},
): Promise<{ h: Harness; sim: DarajaSim }> {
  const sim = await startDarajaSimulator();
  const mpesa = createMpesaGateway({ baseUrl: sim.url, ...DARAJA_SIM_DEFAULTS, sandbox: true, ...gateway });
  const h = await startHarness({ env, gateways: { mpesa } });
  await setShopCurrency(h, 'KES');
  await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price: 1000 });
  return { h, sim };
}
