import { randomUUID } from 'node:crypto';
import type { InitiateRequest, PaymentGateway, WebhookEvent } from '../../core/gateway';
import {
  startWebhookReceiver,
  webhookEventsArrive,
  webhookEventsFor,
  type ReceivedWebhook,
  type WebhookReceiver,
} from './gateways';

/**
 * One setup for the gateway-* adapter suites: a simulator, the adapter under test pointed at it,
 * and a local webhook receiver standing in for /webhooks/<gateway> (see startWebhookReceiver).
 * Call it at the top of a test file: it registers the beforeAll/afterAll that start and stop them.
 */

type Delivery = { headers: Record<string, string>; rawBody: string; url: string };

export interface GatewaySuiteOptions<S> {
  start: () => Promise<S>;
  /** The receiver's path, as the API serves it (the simulator's webhooks go there). */
  webhookPath: string;
  /** The adapter under test, given the simulator and the receiver's full URL. */
  gateway: (sim: S, webhookUrl: string) => PaymentGateway;
  /** How the receiver parses a delivery; the adapter's own parseWebhook unless given. */
  parse?: (delivery: Delivery, gw: PaymentGateway) => WebhookEvent;
  /** The fields every request() has unless a test says otherwise. */
  requestDefaults: Pick<InitiateRequest, 'orderNumber' | 'currency' | 'description'> & Partial<InitiateRequest>;
  /** Totals count up from here, so a simulator script keyed by amount belongs to one test. */
  firstAmount: number;
  /** How long the simulator may take to start (a fresh machine builds stripe-mock first). */
  startTimeoutMs?: number;
}

export interface GatewaySuite<S> {
  readonly sim: S;
  readonly gw: PaymentGateway;
  /** The receiver's full URL (what the simulator posts to and a URL-signing gateway signs). */
  readonly webhookUrl: string;
  /** Every delivery the receiver got, parsed or not. */
  readonly received: ReceivedWebhook[];
  /** A fresh initiate request (new payment and order ids, the next total). */
  request(over?: Partial<InitiateRequest>): InitiateRequest;
  /** The adapter's status query for a request initiated under `reference`. */
  statusOf(req: InitiateRequest, reference: string): ReturnType<PaymentGateway['status']>;
  eventsFor(paymentId: string): WebhookEvent[];
  eventsArrive(paymentId: string, n?: number): Promise<WebhookEvent[]>;
}

interface Started<S> {
  sim: S;
  gw: PaymentGateway;
  receiver: WebhookReceiver;
}

export function gatewaySuite<S extends { close(): Promise<void>; setWebhookUrl(url: string): void }>(
  opts: GatewaySuiteOptions<S>,
): GatewaySuite<S> {
  let started: Partial<Started<S>> = {};
  const received: ReceivedWebhook[] = [];
  let amountSeq = opts.firstAmount;
  const parse = opts.parse ?? ((delivery, gw) => gw.parseWebhook(delivery));
  const ready = (): Started<S> => started as Started<S>;

  beforeAll(async () => {
    const sim = await opts.start();
    started = { sim };
    // The receiver asks for the gateway only when a delivery comes, by which time it exists.
    const receiver = await startWebhookReceiver(opts.webhookPath, received, (d) => parse(d, ready().gw));
    started = { sim, receiver, gw: opts.gateway(sim, receiver.url) };
    sim.setWebhookUrl(receiver.url);
  }, opts.startTimeoutMs);

  afterAll(async () => {
    await started.sim?.close();
    await started.receiver?.close();
  });

  return {
    get sim() {
      return ready().sim;
    },
    get gw() {
      return ready().gw;
    },
    get webhookUrl() {
      return ready().receiver.url;
    },
    received,
    request(over = {}) {
      const orderId = randomUUID();
      const total = over.total ?? amountSeq++;
      return {
        paymentId: randomUUID(),
        orderId,
        idempotencyKey: `payment-${orderId}-1`,
        total,
        amount: total,
        tip: 0,
        fee: 0,
        ...opts.requestDefaults,
        ...over,
      };
    },
    statusOf: (req, reference) =>
      ready().gw.status({ reference, idempotencyKey: req.idempotencyKey, total: req.total, currency: req.currency }),
    eventsFor: (paymentId) => webhookEventsFor(received, paymentId),
    eventsArrive: (paymentId, n = 1) => webhookEventsArrive(received, paymentId, n),
  };
}
