import { createMpesaGateway, type MpesaConfig } from '../../activities/payments/mpesa';
import { startDarajaSimulator, DARAJA_SIM_DEFAULTS, type DarajaSim } from '../../simulators/daraja';
import { paymentSuite, type PaymentSuite } from './payment-suite';

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
