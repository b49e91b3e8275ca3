import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { WebhookSignatureError, type PaymentGateway, type WebhookEvent } from '../../core/gateway';
import type { ReceivedCallback } from '../../simulators/http';

/** Shared plumbing for the gateway-* adapter tests. */

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Awaits p, expects it to reject with an ApplicationFailure and returns that failure. */
export async function gatewayRejection(p: Promise<unknown>): Promise<ApplicationFailure> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ApplicationFailure);
  return e as ApplicationFailure;
}

/** Expects p to reject with an ApplicationFailure of this type and retryability; returns it. */
export async function expectGatewayFailure(
  p: Promise<unknown>,
  type: string,
  nonRetryable: boolean,
): Promise<ApplicationFailure> {
  const err = await gatewayRejection(p);
  expect(err.type).toBe(type);
  expect(err.nonRetryable).toBe(nonRetryable);
  return err;
}

/** Hands a callback the local receiver got to the adapter's parseWebhook. */
export const parseReceivedCallback = (gw: PaymentGateway, cb: ReceivedCallback): WebhookEvent =>
  gw.parseWebhook({ headers: cb.headers, rawBody: cb.rawBody, url: cb.url });

/** Polls fn every 20 ms until it gives something other than undefined/false; throws naming `what` after ms. */
export async function waitFor<T>(
  fn: () => T | undefined | Promise<T | undefined>,
  what: string,
  ms = 5_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What the local webhook receiver made of one delivery: the parsed event, or the parser's error. */
export type ReceivedWebhook = { event?: WebhookEvent; error?: unknown; at: number };

export interface WebhookReceiver {
  /** Where the simulator should send its webhooks (http://127.0.0.1:<port>/<path>). */
  url: string;
  close(): Promise<void>;
}

/**
 * A local HTTP server standing in for /webhooks/<gateway>: every delivery goes through `parse`
 * (given the full request URL) and lands in `received`; 200 when parsed, 401 on a bad signature,
 * 500 on any other error.
 */
export async function startWebhookReceiver(
  path: string,
  received: ReceivedWebhook[],
  parse: (input: { headers: Record<string, string>; rawBody: string; url: string }) => WebhookEvent,
): Promise<WebhookReceiver> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        const event = parse({
          headers: req.headers as Record<string, string>,
          rawBody: body,
          url: `http://${req.headers.host}${req.url}`,
        });
        received.push({ event, at: Date.now() });
        res.writeHead(200).end();
      } catch (error) {
        received.push({ error, at: Date.now() });
        res.writeHead(error instanceof WebhookSignatureError ? 401 : 500).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The parsed webhook events for one payment, in arrival order. */
export const webhookEventsFor = (received: ReceivedWebhook[], paymentId: string): WebhookEvent[] =>
  received.flatMap((r) => (r.event?.paymentId === paymentId ? [r.event] : []));

/** Waits until at least n webhook events for the payment have arrived, and returns them. */
export const webhookEventsArrive = (received: ReceivedWebhook[], paymentId: string, n = 1): Promise<WebhookEvent[]> =>
  waitFor(
    () => (webhookEventsFor(received, paymentId).length >= n ? webhookEventsFor(received, paymentId) : undefined),
    `${n} webhook(s) for ${paymentId}`,
  );

/** The text a QR code PNG (as a data URL) decodes to. */
export function decodeQr(dataUrl: string): string | undefined {
  const png = PNG.sync.read(Buffer.from(dataUrl.slice('data:image/png;base64,'.length), 'base64'));
  return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data;
}
