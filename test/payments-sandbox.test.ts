import { startHarness, Harness } from './support/harness';
import { postPayment } from './support/payments';

/**
 * The offline sandbox `npm start` runs without gateway credentials: all five methods work end to
 * end against the local simulators, and /health and the payments say `sandbox` loudly.
 */
let h: Harness;
let cashier: string;

beforeAll(async () => {
  h = await startHarness({
    sandboxPayments: true,
    env: {
      TILLFLOW_PAYMENT_CALLBACK_WAIT_MS: '500',
      TILLFLOW_PAYMENT_POLL_MS: '100',
      TILLFLOW_PAYMENT_POLL_MAX_MS: '300',
      TILLFLOW_PAYMENT_EXPIRE_MS: '5000',
    },
  });
  cashier = await h.login('3456');
}, 120_000);
afterAll(async () => h?.close());

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(v).slice(0, 800)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('reports sandbox payments on /health', async () => {
  const res = await h.api('GET', '/health');
  expect(res.body).toMatchObject({
    sandbox: true,
    payments: { square: 'sandbox', stripe: 'sandbox', qr: 'sandbox', mpesa: 'sandbox', airtel: 'sandbox' },
  });
});

it.each([
  ['card via Square on a reader', { method: 'card', provider: 'square', deviceId: 'sandbox-reader' }, 'USD'],
  ['card via Stripe on a reader', { method: 'card', provider: 'stripe', deviceId: 'tmr_sandbox' }, 'USD'],
  ['QR (hosted page)', { method: 'qr' }, 'USD'],
  ['M-Pesa STK push', { method: 'mpesa', phone: '254712345678' }, 'KES'],
  ['Airtel Money', { method: 'airtel', phone: '254733123456' }, 'KES'],
])(
  'takes a %s payment offline and closes the order',
  async (_name, body, currency) => {
    await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ currency, tax_rate: 0 });
    await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price: 1000 });
    const created = await h.api('POST', '/api/v1/orders', {
      token: cashier,
      body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Burger'], quantity: 1 }] },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const res = await postPayment(h, cashier, id, { ...body, amount: created.body.totals.total });
    expect([201, 202]).toContain(res.status);
    expect(res.body).toMatchObject({ sandbox: true, method: body.method });
    if (body.method === 'qr') {
      expect(res.body.action).toMatchObject({
        type: 'show_qr',
        url: expect.stringMatching(/^http/),
        image: expect.stringMatching(/^data:image\/png;base64,/),
      });
    }
    const closed = await until(
      () => h.api('GET', `/api/v1/orders/${id}`, { token: cashier }).then((r) => r.body),
      (s) => s.status === 'closed' || s.payments?.[0]?.status === 'failed',
    );
    expect(closed.status).toBe('closed');
    expect(closed.payments[0]).toMatchObject({ status: 'succeeded', sandbox: true });
  },
  60_000,
);
