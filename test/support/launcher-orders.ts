import { randomUUID } from 'node:crypto';
import { call, type Ready } from './launcher';

/** A Croissant of the demo shop's menu, as a launched Tillflow serves it. */
async function croissantId(ready: Ready, token: string): Promise<string> {
  const menu = await call(ready, 'GET', '/api/v1/catalog/menu', token);
  return menu.body.categories.flatMap((c: any) => c.items).find((i: any) => i.name === 'Croissant').id;
}

/** Opens a takeaway order with a Croissant on a launched Tillflow; returns its snapshot. */
export async function openOrder(ready: Ready, token: string): Promise<any> {
  const created = await call(ready, 'POST', '/api/v1/orders', token, {
    type: 'takeaway',
    lines: [{ itemId: await croissantId(ready, token), quantity: 1 }],
  });
  if (created.status !== 201) throw new Error(`order not created: ${JSON.stringify(created.body)}`);
  return created.body;
}

/** Opens an order and pays it in cash (with an Idempotency-Key), waiting until its close reached Postgres. */
export async function closedOrder(ready: Ready, token: string): Promise<any> {
  const order = await openOrder(ready, token);
  const res = await fetch(`${ready.apiUrl}/api/v1/orders/${order.id}/payments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'Idempotency-Key': randomUUID() },
    body: JSON.stringify({ method: 'cash', amount: order.totals.balance, tendered: order.totals.balance }),
  });
  const paid = (await res.json()) as any;
  if (res.status !== 201 || paid.order.status !== 'closed') throw new Error(`not paid: ${JSON.stringify(paid)}`);
  // The close reaches Postgres in an activity after the reply: wait until the list (read from it) has it.
  for (let i = 0; i < 150; i++) {
    if ((await closedOrderIds(ready, token)).includes(order.id)) return paid.order;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`order ${order.id} was not persisted`);
}

/** The ids of the closed orders in Postgres (GET /api/v1/orders?status=closed reads the orders table). */
export async function closedOrderIds(ready: Ready, token: string): Promise<string[]> {
  const list = await call(ready, 'GET', '/api/v1/orders?status=closed&limit=200', token);
  return list.body.orders.map((o: any) => o.id);
}
