import { postPayment } from './support/payments';
import { startHarness, Harness } from './support/harness';
import { connectSocket, TestSocket } from './support/ws-client';
import { startStripeSimulator, StripeSim } from '../simulators/stripe';
import { createQrGateway } from '../activities/payments/qr';
import { PAYMENT_TEST_TIMING } from './support/payments';

// A customer display faces the customer: it authenticates as a device (issued by a manager) that
// may watch only its own terminal, and it is sent what a customer may see — lines, totals, the QR
// to pay with, and whether the order is paid — never staff, customer, gateway or cash details.
let h: Harness;
let sim: StripeSim;
let manager: string;
let cashier: string;
const sockets: TestSocket[] = [];
let terminalSeq = 0;

const INTERNAL =
  /^(staffId|customerName|reference|tendered|change|failureReason|provider|workflowId|sandbox|autoRefunded|terminalId|locationId|cancelReason)$/;

function keysDeep(v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(keysDeep);
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [k, ...keysDeep(x)]);
  return [];
}

beforeAll(async () => {
  sim = await startStripeSimulator({ defaultScript: { outcome: 'abandon' } });
  const qr = createQrGateway(sim.config({ timeoutMs: 1_000 }), {
    successUrl: 'https://pos.example.com/qr/done',
    cancelUrl: 'https://pos.example.com/qr/cancelled',
  });
  h = await startHarness({ env: PAYMENT_TEST_TIMING, gateways: { qr } });
  sim.setWebhookUrl(h.baseUrl + '/webhooks/stripe');
  manager = await h.login('2345');
  cashier = await h.login('3456');
}, 120_000);
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await h?.close();
  await sim?.close();
});

async function socket(token: string) {
  const s = await connectSocket(h.baseUrl, token);
  sockets.push(s);
  return s;
}

/** A display for a fresh terminal id: its token and the terminal. */
async function newDisplay(): Promise<{ id: string; token: string; terminalId: string }> {
  const terminalId = `till-${++terminalSeq}`;
  const res = await h.api('POST', '/api/v1/displays', {
    token: manager,
    body: { name: `Display ${terminalSeq}`, terminalId },
  });
  expect(res.status).toBe(201);
  return { id: res.body.id, token: res.body.token, terminalId };
}

async function subscribed(s: TestSocket, topics: string[]) {
  s.send({ type: 'subscribe', topics });
  return s.waitFor((m) => m.type === 'subscribed');
}

it('issues a display token to a manager once; the list never shows it', async () => {
  const d = await newDisplay();
  expect(d.token).toEqual(expect.any(String));
  const list = await h.api('GET', '/api/v1/displays', { token: manager });
  expect(list.status).toBe(200);
  const shown = list.body.displays.find((x: any) => x.id === d.id);
  expect(shown).toMatchObject({ terminalId: d.terminalId });
  expect(JSON.stringify(list.body)).not.toContain(d.token);
  expect(keysDeep(list.body).filter((k) => /token|hash/i.test(k))).toEqual([]);
});

it('refuses to issue display tokens to a cashier', async () => {
  const res = await h.api('POST', '/api/v1/displays', {
    token: cashier,
    body: { name: 'Sneaky', terminalId: 'till-x' },
  });
  expect(res.status).toBe(403);
});

it('refuses a second live display for the same terminal (409)', async () => {
  const d = await newDisplay();
  const res = await h.api('POST', '/api/v1/displays', {
    token: manager,
    body: { name: 'Another', terminalId: d.terminalId },
  });
  expect(res.status).toBe(409);
  expect(res.body.code).toBe('CONFLICT');
});

it.each([
  ['a missing terminalId', { name: 'X' }],
  ['a numeric terminalId', { name: 'X', terminalId: 7 }],
  ['a terminalId with spaces', { name: 'X', terminalId: 'till 1' }],
  ['an empty name', { name: '', terminalId: 'till-y' }],
  ['an unknown field', { name: 'X', terminalId: 'till-y', role: 'manager' }],
])('answers a display request with %s with 422', async (_what, body) => {
  const res = await h.api('POST', '/api/v1/displays', { token: manager, body });
  expect(res.status).toBe(422);
  expect(res.body.code).toBe('VALIDATION_ERROR');
});

it('answers revoking an unknown or malformed display id with 404 / 422', async () => {
  expect(
    (await h.api('DELETE', '/api/v1/displays/00000000-0000-4000-8000-000000000000', { token: manager })).status,
  ).toBe(404);
  expect((await h.api('DELETE', '/api/v1/displays/nope', { token: manager })).status).toBe(422);
});

it('lets a display subscribe to its own terminal only', async () => {
  const d = await newDisplay();
  const s = await socket(d.token);
  const ack = await subscribed(s, [
    `display:${d.terminalId}`,
    'display:till-other',
    `orders:${h.shop.locationId}`,
    `kitchen:${h.shop.locationId}`,
  ]);
  expect(ack.topics).toEqual([`display:${d.terminalId}`]);
  expect((await s.waitFor((m) => m.type === 'error')).refusedCount).toBe(3);
});

it('refuses display topics to staff tokens', async () => {
  const s = await socket(cashier);
  const ack = await subscribed(s, ['display:till-1']);
  expect(ack.topics).toEqual([]);
});

it('refuses a display token on the REST API', async () => {
  const d = await newDisplay();
  const res = await h.api('GET', '/api/v1/orders', { token: d.token });
  expect(res.status).toBe(403);
  expect(res.body.code).toBe('FORBIDDEN');
});

it('sends the display the cart and its totals, without staff or customer', async () => {
  const d = await newDisplay();
  const s = await socket(d.token);
  await subscribed(s, [`display:${d.terminalId}`]);
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', customerName: 'Alice Example', terminalId: d.terminalId },
  });
  const id = created.body.id;
  const added = await h.api('POST', `/api/v1/orders/${id}/lines`, {
    token: cashier,
    body: { itemId: h.shop.items['Latte'], quantity: 2, modifierIds: [h.shop.modifiers['Large']] },
  });
  const cart = await s.waitFor((m) => m.event === 'cart_updated' && m.version === added.body.version);
  expect(cart.data).toMatchObject({
    order_id: id,
    total: added.body.totals.total,
    status: 'open',
    totals: added.body.totals,
    lines: [{ name: 'Latte', quantity: 2 }],
  });
  expect(keysDeep(s.events()).filter((k) => INTERNAL.test(k))).toEqual([]);
});

it('shows the QR to pay with, and the paid status, without gateway or cash details', async () => {
  const d = await newDisplay();
  const s = await socket(d.token);
  await subscribed(s, [`display:${d.terminalId}`]);
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', terminalId: d.terminalId, lines: [{ itemId: h.shop.items['Croissant'], quantity: 2 }] },
  });
  const total = created.body.totals.total;
  const qr = await postPayment(h, cashier, created.body.id, { method: 'qr', amount: 100 });
  expect(qr.body.reference).toEqual(expect.any(String));
  const shown = await s.waitFor((m) => m.event === 'payment.updated' && m.data.action?.type === 'show_qr');
  expect(shown.data.action).toEqual({ type: 'show_qr', url: qr.body.action.url, image: qr.body.action.image });
  await h.api('DELETE', `/api/v1/orders/${created.body.id}/payments/${qr.body.id}`, { token: cashier });
  const paid = await postPayment(h, cashier, created.body.id, { method: 'cash', amount: total, tendered: total + 500 });
  expect(paid.body.order.status).toBe('closed');
  await s.waitFor((m) => m.event === 'cart_updated' && m.data.status === 'closed');
  expect(keysDeep(s.events()).filter((k) => INTERNAL.test(k))).toEqual([]);
});

it('closes the display socket (4401) and stops its token when a manager revokes it', async () => {
  const d = await newDisplay();
  const s = await socket(d.token);
  await s.waitFor((m) => m.type === 'welcome');
  expect((await h.api('DELETE', `/api/v1/displays/${d.id}`, { token: manager })).status).toBe(204);
  expect((await s.closed).code).toBe(4401);
  const again = await socket(d.token);
  expect((await again.closed).code).toBe(4401);
});
