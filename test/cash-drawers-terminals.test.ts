/**
 * A cash drawer per terminal: a session opened for a terminal is that terminal's drawer, and the
 * cash a terminal takes counts into it (never into another terminal's drawer).
 */
import { startHarness, Harness } from './support/harness';
import { postPayment, until } from './support/payments';

let h: Harness;
let cashier: string;

beforeAll(async () => {
  h = await startHarness({ printingWorker: false });
  cashier = await h.login('3456');
  await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ auto_print_kitchen: false, tax_rate: 0 });
});
beforeEach(async () => {
  await h.deps.knex('drawer_sessions').where({ status: 'open' }).update({ status: 'closed', expected: 0, counted: 0 });
});
afterAll(async () => h?.close());

const sessions = (drawer: string) => `/api/v1/drawers/${drawer}/sessions`;

async function openDrawer(drawer: string, terminalId?: string): Promise<string> {
  const res = await h.api('POST', sessions(drawer), { token: cashier, body: { float: 1000, terminalId } });
  expect(res.status).toBe(201);
  expect(res.body.terminalId).toBe(terminalId ?? null);
  return res.body.id;
}

/** A cash sale of one burger on an order opened at `openedAt`, paid at `paidAt` (default: the same terminal). */
async function cashSale(openedAt: string, paidAt?: string): Promise<string> {
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', terminalId: openedAt, lines: [{ itemId: h.shop.items['Burger'], quantity: 1 }] },
  });
  const total = created.body.totals.total;
  const paid = await postPayment(h, cashier, created.body.id, {
    method: 'cash',
    amount: total,
    tendered: total,
    ...(paidAt ? { terminalId: paidAt } : {}),
  });
  expect(paid.body).toMatchObject({ status: 'succeeded', order: { status: 'closed' } });
  return paid.body.id;
}

/** The session the payment was counted into, once the order's close has reached the database. */
async function countedInto(paymentId: string): Promise<string | undefined> {
  await until(
    () => h.deps.knex('payments').where({ id: paymentId }).first('id'),
    (r) => r !== undefined,
  );
  const m = await h.deps.knex('drawer_movements').where({ payment_id: paymentId }).first('session_id');
  return m?.session_id;
}

it('counts cash into the drawer of the terminal that took it', async () => {
  const till1 = await openDrawer('till-1', 'T1');
  const till2 = await openDrawer('till-2', 'T2');
  expect(await countedInto(await cashSale('T1'))).toBe(till1);
  expect(await countedInto(await cashSale('T2'))).toBe(till2);
});

it('counts cash into the drawer of the terminal that took the payment, not the one that opened the order', async () => {
  await openDrawer('till-1', 'T1');
  const till2 = await openDrawer('till-2', 'T2');
  expect(await countedInto(await cashSale('T1', 'T2'))).toBe(till2);
});

it('counts a terminal without a drawer of its own into the shared drawer, never into another terminal’s', async () => {
  await openDrawer('till-1', 'T1');
  const shared = await openDrawer('main');
  expect(await countedInto(await cashSale('T3'))).toBe(shared);
});

it('allows one open drawer per terminal (409 for a second drawer)', async () => {
  await openDrawer('till-1', 'T1');
  const second = await h.api('POST', sessions('till-9'), { token: cashier, body: { float: 0, terminalId: 'T1' } });
  expect(second.status).toBe(409);
});
