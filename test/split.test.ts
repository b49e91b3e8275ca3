import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { postPayment } from './support/payments';

let h: Harness;
let manager: string;
let cashier: string;
beforeAll(async () => {
  h = await startHarness();
  manager = await h.login('2345');
  cashier = await h.login('3456');
});
afterAll(async () => h?.close());

async function tableOrder(): Promise<{ order: any; table: any }> {
  const table = (
    await h.api('POST', '/api/v1/tables', { token: manager, body: { name: `S${randomUUID().slice(0, 6)}` } })
  ).body;
  const customer = (await h.api('POST', '/api/v1/customers', { token: cashier, body: { name: 'Split Guest' } })).body;
  const res = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: {
      type: 'dine_in',
      tableId: table.id,
      customerId: customer.id,
      lines: [
        { itemId: h.shop.items['Burger'], quantity: 3 },
        { itemId: h.shop.items['Croissant'], quantity: 2 },
      ],
    },
  });
  expect(res.status).toBe(201);
  return { order: res.body, table };
}
const split = (orderId: string, lines: { lineId: string; quantity: number }[], key = randomUUID()) =>
  h.api('POST', `/api/v1/orders/${orderId}/split`, {
    token: cashier,
    body: { lines },
    headers: { 'idempotency-key': key },
  });
const summary = (o: any) => o.lines.map((l: any) => [l.name, l.quantity]);

describe('split bills', () => {
  it('moves chosen line quantities to a new order on the same table, staff and customer', async () => {
    const { order, table } = await tableOrder();
    const [burger, croissant] = order.lines;
    const res = await split(order.id, [
      { lineId: burger.id, quantity: 1 },
      { lineId: croissant.id, quantity: 2 },
    ]);
    expect(res.status).toBe(201);
    expect(summary(res.body.original)).toEqual([['Burger', 2]]);
    expect(summary(res.body.order)).toEqual([
      ['Burger', 1],
      ['Croissant', 2],
    ]);
    expect(res.body.order).toMatchObject({
      status: 'open',
      tableId: table.id,
      table: table.name,
      staffId: order.staffId,
      customerId: order.customerId,
    });
    expect(res.body.order.orderNumber).not.toBe(order.orderNumber);
    expect(res.body.original.totals.total + res.body.order.totals.total).toBe(order.totals.total);
    const floor = (await h.api('GET', `/api/v1/tables/${table.id}`, { token: cashier })).body;
    expect(floor.openOrderIds.sort()).toEqual([order.id, res.body.order.id].sort());
  });

  it('applies a repeated split (same Idempotency-Key) once', async () => {
    const { order } = await tableOrder();
    const key = randomUUID();
    const lines = [{ lineId: order.lines[0].id, quantity: 1 }];
    const first = await split(order.id, lines, key);
    const again = await split(order.id, lines, key);
    expect(again.body.order.id).toBe(first.body.order.id);
    expect(summary(again.body.original)).toEqual([
      ['Burger', 2],
      ['Croissant', 2],
    ]);
  });

  it('refuses a split once a payment has succeeded on the order (409)', async () => {
    const { order } = await tableOrder();
    await postPayment(h, cashier, order.id, { method: 'cash', amount: 100, tendered: 100 });
    const res = await split(order.id, [{ lineId: order.lines[0].id, quantity: 1 }]);
    expect(res.status).toBe(409);
    expect(summary((await h.api('GET', `/api/v1/orders/${order.id}`, { token: cashier })).body)).toEqual([
      ['Burger', 3],
      ['Croissant', 2],
    ]);
  });

  it('refuses more than a line holds, or moving everything, with 422', async () => {
    const { order } = await tableOrder();
    const [burger, croissant] = order.lines;
    expect((await split(order.id, [{ lineId: burger.id, quantity: 4 }])).status).toBe(422);
    expect(
      (
        await split(order.id, [
          { lineId: burger.id, quantity: 3 },
          { lineId: croissant.id, quantity: 2 },
        ])
      ).status,
    ).toBe(422);
  });

  it('refuses to split a cancelled order whose table was removed since with 409 (found by the fuzzer: 500)', async () => {
    const { order, table } = await tableOrder();
    const cancelled = await h.api('POST', `/api/v1/orders/${order.id}/cancel`, {
      token: cashier,
      body: { reason: 'left' },
    });
    expect(cancelled.status).toBe(200);
    expect((await h.api('DELETE', `/api/v1/tables/${table.id}`, { token: manager })).status).toBe(204);
    const res = await split(order.id, [{ lineId: order.lines[0].id, quantity: 1 }]);
    expect(res.status).toBe(409);
  });

  it('gives equal shares that sum exactly to the balance, remainder cents first', async () => {
    const { order } = await tableOrder();
    const res = await h.api('GET', `/api/v1/orders/${order.id}/split?parts=3`, { token: cashier });
    expect(res.status).toBe(200);
    const b = order.totals.balance;
    expect(res.body.amounts.reduce((a: number, x: number) => a + x, 0)).toBe(b);
    expect(res.body.amounts[0] - res.body.amounts[2]).toBe(b % 3 === 0 ? 0 : 1);
    expect(Math.max(...res.body.amounts) - Math.min(...res.body.amounts)).toBeLessThanOrEqual(1);
  });
});
