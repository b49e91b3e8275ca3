import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { openBurgerOrder, until } from './support/payments';

let h: Harness;
let manager: string;
let cashier: string;
beforeAll(async () => {
  h = await startHarness();
  manager = await h.login('2345');
  cashier = await h.login('3456');
});
afterAll(async () => h?.close());

const addCustomer = async (body: Record<string, unknown>) => {
  const res = await h.api('POST', '/api/v1/customers', { token: cashier, body });
  expect(res.status).toBe(201);
  return res.body;
};
const search = async (q: string) =>
  (await h.api('GET', `/api/v1/customers?q=${encodeURIComponent(q)}`, { token: cashier })).body.map((c: any) => c.name);

describe('customers', () => {
  it('are created, read, changed and deleted', async () => {
    const c = await addCustomer({
      name: 'Ada Lovelace',
      phone: '+254700000001',
      email: 'ada@example.com',
      note: 'window seat',
    });
    expect(c).toMatchObject({
      name: 'Ada Lovelace',
      phone: '+254700000001',
      email: 'ada@example.com',
      loyaltyPoints: 0,
    });
    expect(
      (await h.api('PATCH', `/api/v1/customers/${c.id}`, { token: cashier, body: { note: null } })).body,
    ).toMatchObject({ id: c.id, note: null });
    expect((await h.api('GET', `/api/v1/customers/${c.id}`, { token: cashier })).body.note).toBeNull();
    expect((await h.api('DELETE', `/api/v1/customers/${c.id}`, { token: cashier })).status).toBe(403);
    expect((await h.api('DELETE', `/api/v1/customers/${c.id}`, { token: manager })).status).toBe(204);
    expect((await h.api('GET', `/api/v1/customers/${c.id}`, { token: cashier })).status).toBe(404);
  });

  it('are found by any part of their name, phone or e-mail, case-insensitively', async () => {
    await addCustomer({ name: 'Grace Hopper', phone: '+15550001111', email: 'grace@navy.example' });
    await addCustomer({ name: 'Alan Turing', phone: '+44 20 7946 0000', email: 'alan@bletchley.example' });
    expect(await search('hOPP')).toEqual(['Grace Hopper']);
    expect(await search('7946')).toEqual(['Alan Turing']);
    expect(await search('BLETCHLEY')).toEqual(['Alan Turing']);
    expect(await search('100%')).toEqual([]); // % is a character to find, not a wildcard
  });

  it('are attached to an order, which then shows in their order history', async () => {
    const c = await addCustomer({ name: 'Katherine Johnson' });
    const order = await openBurgerOrder(h, cashier);
    const attached = await h.api('PATCH', `/api/v1/orders/${order.id}`, { token: cashier, body: { customerId: c.id } });
    expect(attached.status).toBe(200);
    expect(attached.body).toMatchObject({ customerId: c.id, customerName: 'Katherine Johnson' });
    const opened = await h.api('POST', '/api/v1/orders', {
      token: cashier,
      body: { type: 'takeaway', customerId: c.id },
    });
    expect(opened.body).toMatchObject({ customerId: c.id, customerName: 'Katherine Johnson' });
    const history = await until(
      async () => (await h.api('GET', `/api/v1/customers/${c.id}/orders`, { token: cashier })).body,
      (list: any[]) => list.length === 2,
    );
    expect(history.map((o: any) => o.id)).toEqual([opened.body.id, order.id]);
  });

  it('refuses an unknown customer on an order with 422', async () => {
    const order = await openBurgerOrder(h, cashier);
    const res = await h.api('PATCH', `/api/v1/orders/${order.id}`, {
      token: cashier,
      body: { customerId: randomUUID() },
    });
    expect(res.status).toBe(422);
    expect(res.body.errors[0].path).toBe('customerId');
  });
});
