import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { connectSocket } from './support/ws-client';
import { postPayment, until } from './support/payments';

let h: Harness;
let manager: string;
let cashier: string;
let cashier2: string;
beforeAll(async () => {
  h = await startHarness();
  manager = await h.login('2345');
  cashier = await h.login('3456');
  cashier2 = await h.login('3456'); // a second terminal
});
afterAll(async () => h?.close());

let n = 0;
async function newTable(): Promise<any> {
  const res = await h.api('POST', '/api/v1/tables', {
    token: manager,
    body: { name: `T${++n}`, seats: 4, area: 'Terrace', sortOrder: n },
  });
  expect(res.status).toBe(201);
  return res.body;
}
const openOn = (token: string, tableId: string, extra: Record<string, unknown> = {}) =>
  h.api('POST', '/api/v1/orders', {
    token,
    body: { type: 'dine_in', tableId, lines: [{ itemId: h.shop.items['Burger'], quantity: 1 }], ...extra },
  });
const tableOf = async (id: string) => (await h.api('GET', `/api/v1/tables/${id}`, { token: cashier })).body;

describe('tables', () => {
  it('are managed by managers and listed for cashiers as free with no open orders', async () => {
    const t = await newTable();
    expect(t).toMatchObject({
      name: `T${n}`,
      seats: 4,
      area: 'Terrace',
      active: true,
      status: 'free',
      openOrderIds: [],
    });
    expect((await h.api('POST', '/api/v1/tables', { token: cashier, body: { name: 'X1' } })).status).toBe(403);
    expect((await h.api('POST', '/api/v1/tables', { token: manager, body: { name: t.name } })).status).toBe(409);
    const patched = await h.api('PATCH', `/api/v1/tables/${t.id}`, { token: manager, body: { seats: 6 } });
    expect(patched.body).toMatchObject({ id: t.id, seats: 6 });
    const list = await h.api('GET', '/api/v1/tables', { token: cashier });
    expect(list.body.find((x: any) => x.id === t.id)).toMatchObject({ seats: 6, status: 'free' });
    expect((await h.api('DELETE', `/api/v1/tables/${t.id}`, { token: manager })).status).toBe(204);
    expect((await h.api('GET', `/api/v1/tables/${t.id}`, { token: cashier })).status).toBe(404);
  });

  it('gives two terminals opening the same table at the same moment one order; the loser gets 409 with existingOrderId', async () => {
    for (let round = 0; round < 5; round++) {
      const t = await newTable();
      const [a, b] = await Promise.all([openOn(cashier, t.id), openOn(cashier2, t.id)]);
      const winner = a.status === 201 ? a : b;
      const loser = a.status === 201 ? b : a;
      expect([a.status, b.status].sort()).toEqual([201, 409]);
      expect(loser.body).toMatchObject({ code: 'CONFLICT', existingOrderId: winner.body.id });
      expect(winner.body).toMatchObject({ tableId: t.id, table: t.name });
      expect(await tableOf(t.id)).toMatchObject({ status: 'occupied', openOrderIds: [winner.body.id] });
      const open = await h.deps
        .knex('orders')
        .where({ table_id: t.id, status: 'open' })
        .count<{ count: string }[]>('* as count');
      expect(Number(open[0]!.count)).toBeLessThanOrEqual(1);
    }
  });

  it('lets a repeated create with the same id return the same order on its table', async () => {
    const t = await newTable();
    const id = randomUUID();
    const [a, b] = await Promise.all([openOn(cashier, t.id, { id }), openOn(cashier2, t.id, { id })]);
    expect([a.body.id, b.body.id]).toEqual([id, id]);
    expect((await tableOf(t.id)).openOrderIds).toEqual([id]);
  });

  it('opens a second check on an occupied table when asked to', async () => {
    const t = await newTable();
    const first = await openOn(cashier, t.id);
    const second = await openOn(cashier, t.id, { newCheck: true });
    expect(second.status).toBe(201);
    expect((await tableOf(t.id)).openOrderIds.sort()).toEqual([first.body.id, second.body.id].sort());
  });

  it('moves an order to a free table, and refuses a move onto an occupied one with existingOrderId', async () => {
    const [a, b, c] = [await newTable(), await newTable(), await newTable()];
    const order = (await openOn(cashier, a.id)).body;
    const other = (await openOn(cashier, c.id)).body;
    const moved = await h.api('PATCH', `/api/v1/orders/${order.id}`, { token: cashier, body: { tableId: b.id } });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ tableId: b.id, table: b.name });
    expect(await tableOf(a.id)).toMatchObject({ status: 'free', openOrderIds: [] });
    expect(await tableOf(b.id)).toMatchObject({ status: 'occupied', openOrderIds: [order.id] });
    const refused = await h.api('PATCH', `/api/v1/orders/${order.id}`, { token: cashier, body: { tableId: c.id } });
    expect(refused.status).toBe(409);
    expect(refused.body.existingOrderId).toBe(other.id);
    expect((await tableOf(b.id)).openOrderIds).toEqual([order.id]);
  });

  it('frees the table when its order closes', async () => {
    const t = await newTable();
    const order = (await openOn(cashier, t.id)).body;
    const paid = await postPayment(h, cashier, order.id, {
      method: 'cash',
      amount: order.totals.balance,
      tendered: order.totals.balance,
    });
    expect(paid.body.order.status).toBe('closed');
    expect(
      await until(
        () => tableOf(t.id),
        (x) => x.status === 'free',
      ),
    ).toMatchObject({ openOrderIds: [] });
    expect((await openOn(cashier, t.id)).status).toBe(201);
  });

  it('frees the table when its order is cancelled', async () => {
    const t = await newTable();
    const order = (await openOn(cashier, t.id)).body;
    await h.api('POST', `/api/v1/orders/${order.id}/cancel`, { token: cashier, body: { reason: 'left' } });
    expect(
      await until(
        () => tableOf(t.id),
        (x) => x.status === 'free',
      ),
    ).toMatchObject({ openOrderIds: [] });
  });

  it('publishes table.updated on the location topic when a table is taken', async () => {
    const t = await newTable();
    const ws = await connectSocket(h.baseUrl, cashier);
    try {
      ws.send({ type: 'subscribe', topics: [`orders:${h.shop.locationId}`] });
      await ws.waitFor((m) => m.type === 'subscribed');
      const order = (await openOn(cashier, t.id)).body;
      const event = await ws.waitFor(
        (m) => m.type === 'event' && m.event === 'table.updated' && m.data.id === t.id && m.data.status === 'occupied',
      );
      expect(event.data.openOrderIds).toEqual([order.id]);
    } finally {
      await ws.close();
    }
  });

  it('refuses an unknown table with 422 and opens no order', async () => {
    const res = await openOn(cashier, randomUUID());
    expect(res.status).toBe(422);
    expect(res.body.errors[0].path).toBe('tableId');
  });
});
