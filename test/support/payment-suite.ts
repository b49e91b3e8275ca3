import { startHarness, type Harness, type HarnessOptions } from './harness';
import {
  PAYMENT_TEST_TIMING,
  fetchOrder,
  fetchPayment,
  openBurgerOrder,
  openOrderAtPrice,
  postPayment,
  setShopCurrency,
  waitForOrderClosed,
  waitForPaymentSettled,
  withoutWebhooks,
} from './payments';

/**
 * One setup for the payments-* end-to-end suites: a gateway simulator, the API + worker harness
 * with that gateway, the shop in the gateway's currency and a logged-in cashier. Call it at the
 * top of a test file: it registers the beforeAll/afterAll that start and stop everything.
 */

type Simulator = { close(): Promise<void>; setWebhookUrl?(url: string | undefined): void };

export interface PaymentSuiteOptions<S extends Simulator> {
  start: () => Promise<S>;
  /** The gateways the harness gets, made from the simulator. */
  gateways: (sim: S) => NonNullable<HarnessOptions['gateways']>;
  currency: string;
  /** Extra environment beside the short payment timings. */
  env?: Record<string, string>;
  /** Where the simulator posts its webhooks on the API (set once the harness listens). */
  webhookPath?: string;
  /** What must know the harness's URL once it listens (a callback URL, a signed notification URL). */
  afterStart?: (sim: S, h: Harness) => void;
  /** The Burger's price, for suites that pay in fixed amounts. */
  burgerPrice?: number;
  /** Prices count up from here (nextPrice), so a simulator script keyed by amount belongs to one test. */
  firstPrice?: number;
}

export interface PaymentSuite<S> {
  readonly h: Harness;
  readonly sim: S;
  readonly cashier: string;
  /** A fresh price for the next order. */
  nextPrice(): number;
  /** An order of one Burger at `price`. */
  openOrderAt(price: number): Promise<any>;
  /** An order of `quantity` Burgers at the Burger's current price. */
  openBurgers(quantity?: number): Promise<any>;
  /** POSTs a payment as the cashier, with a fresh Idempotency-Key. */
  pay(orderId: string, body: Record<string, unknown>): ReturnType<typeof postPayment>;
  order(id: string): Promise<any>;
  payment(orderId: string, paymentId: string): Promise<any>;
  settled(orderId: string, paymentId: string): Promise<any>;
  closed(orderId: string): Promise<any>;
  /** The simulator sends no webhooks while fn runs: the payment learns its outcome by asking the gateway. */
  withoutWebhooks<T>(fn: () => Promise<T>): Promise<T>;
}

export function paymentSuite<S extends Simulator>(opts: PaymentSuiteOptions<S>): PaymentSuite<S> {
  let started: { h: Harness; sim: S; cashier: string } | undefined;
  let sim: S | undefined;
  let h: Harness | undefined;
  let priceSeq = opts.firstPrice ?? 1000;
  const ready = () => {
    if (!started) throw new Error('paymentSuite is used before its beforeAll ran');
    return started;
  };
  const webhookUrl = () => ready().h.baseUrl + (opts.webhookPath ?? '');

  beforeAll(async () => {
    sim = await opts.start();
    h = await startHarness({ env: { ...PAYMENT_TEST_TIMING, ...opts.env }, gateways: opts.gateways(sim) });
    opts.afterStart?.(sim, h);
    if (opts.webhookPath) sim.setWebhookUrl?.(h.baseUrl + opts.webhookPath);
    await setShopCurrency(h, opts.currency);
    if (opts.burgerPrice !== undefined) {
      await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price: opts.burgerPrice });
    }
    started = { h, sim, cashier: await h.login('3456') };
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await sim?.close();
  });

  return {
    get h() {
      return ready().h;
    },
    get sim() {
      return ready().sim;
    },
    get cashier() {
      return ready().cashier;
    },
    nextPrice: () => (priceSeq += 10),
    openOrderAt: (price) => openOrderAtPrice(ready().h, ready().cashier, price),
    openBurgers: (quantity = 1) => openBurgerOrder(ready().h, ready().cashier, quantity),
    pay: (orderId, body) => postPayment(ready().h, ready().cashier, orderId, body),
    order: (id) => fetchOrder(ready().h, ready().cashier, id),
    payment: (orderId, paymentId) => fetchPayment(ready().h, ready().cashier, orderId, paymentId),
    settled: (orderId, paymentId) => waitForPaymentSettled(ready().h, ready().cashier, orderId, paymentId),
    closed: (orderId) => waitForOrderClosed(ready().h, ready().cashier, orderId),
    withoutWebhooks: (fn) => withoutWebhooks(ready().sim as Required<Simulator>, webhookUrl(), fn),
  };
}
