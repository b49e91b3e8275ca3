/**
 * A POS terminal as bench:chaos drives it: every request of a checkout carries the key a real
 * terminal keeps (the order's client id, one Idempotency-Key per line and per payment), so a
 * checkout interrupted by a fault is completed later by sending the very same requests again.
 */
import { randomUUID } from 'node:crypto';

export type Method = 'cash' | 'card' | 'mpesa';

export interface Checkout {
  id: string;
  method: Method;
  lineKeys: string[];
  payKey: string;
  /** Payments taken again with a new key after one failed (402), as a cashier does. */
  retaken?: number;
  /** What the terminal saw: the order closed, or a request that failed (the checkout is unfinished). */
  outcome?: 'closed' | 'unfinished';
  error?: string;
}

export interface Line {
  itemId: string;
  quantity: number;
  modifierIds?: string[];
}

export class RequestFailed extends Error {}

export function newCheckout(method: Method, lines: number): Checkout {
  return {
    id: randomUUID(),
    method,
    lineKeys: Array.from({ length: lines }, () => randomUUID()),
    payKey: randomUUID(),
  };
}

/** One API replica as a terminal reaches it. */
export class Terminal {
  constructor(
    private readonly baseUrl: () => string,
    private readonly token: string,
    private readonly lines: Line[],
  ) {}

  /** Runs (or re-runs, with the same keys) a checkout to its close; throws RequestFailed on any failed request. */
  async run(c: Checkout, closeWithinMs: number): Promise<void> {
    let order = await this.call('POST', '/api/v1/orders', { id: c.id, type: 'takeaway' });
    for (const [i, line] of this.lines.entries())
      order = await this.call('POST', `/api/v1/orders/${c.id}/lines`, line, c.lineKeys[i]);
    if (order.status !== 'closed') await this.pay(c, order);
    await this.closed(c.id, closeWithinMs);
  }

  /**
   * Pays with the checkout's key. A payment that failed (402: e.g. an M-Pesa prompt whose request
   * a worker crash cut off, which the gateway cannot be asked about, fails after its wait rather
   * than being pushed twice) is answered the same way for that key for ever, so the cashier
   * takes a new payment, under a new key.
   */
  private async pay(c: Checkout, order: { totals: { total: number } }): Promise<void> {
    for (;;) {
      const res = await this.send('POST', `/api/v1/orders/${c.id}/payments`, payment(c, order), c.payKey);
      if (res.status !== 402 || (c.retaken ?? 0) >= 3) return void this.ok(res);
      c.payKey = randomUUID();
      c.retaken = (c.retaken ?? 0) + 1;
      order = res.body.order;
    }
  }

  /** M-Pesa closes once the customer confirms on the phone; cash and card already have. */
  private async closed(id: string, withinMs: number): Promise<void> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const order = await this.call('GET', `/api/v1/orders/${id}`);
      if (order.status === 'closed') return;
      if (Date.now() > deadline) throw new RequestFailed(`order ${id} still ${order.status}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private async call(method: string, url: string, body?: unknown, key?: string): Promise<any> {
    return this.ok(await this.send(method, url, body, key));
  }

  private ok(res: { status: number; body: any; what: string }): any {
    if (res.status >= 300)
      throw new RequestFailed(`${res.what}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    return res.body;
  }

  private async send(method: string, url: string, body?: unknown, key?: string) {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (key) headers['idempotency-key'] = key;
    const what = `${method} ${url}`;
    try {
      const res = await fetch(this.baseUrl() + url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, what };
    } catch (err) {
      throw new RequestFailed(`${what}: ${(err as Error).message}`);
    }
  }
}

/**
 * The whole total, by the checkout's method (the sandbox approves this card and this phone): the
 * same body on a retry, whatever the first attempt left pending.
 */
function payment(c: Checkout, order: { totals: { total: number } }) {
  const amount = order.totals.total;
  if (c.method === 'cash') return { method: 'cash', amount, tendered: amount };
  if (c.method === 'card') return { method: 'card', provider: 'stripe', amount, sourceId: 'pm_card_visa' };
  return { method: 'mpesa', amount, phone: '254712345678' };
}

export async function login(baseUrl: string, pin: string): Promise<string> {
  const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ pin }),
  });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}
