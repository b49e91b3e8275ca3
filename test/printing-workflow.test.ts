import { startHarness, Harness } from './support/harness';
import { closedAddress, startFakePrinter } from './support/fake-printer';
import { postPayment } from './support/payments';

let h: Harness;
let cashier: string;
beforeAll(async () => {
  h = await startHarness();
  cashier = await h.login('3456');
  await h.deps
    .knex('locations')
    .where({ id: h.shop.locationId })
    .update({ auto_print_receipt: true, auto_print_kitchen: false });
});
afterAll(async () => h?.close());

async function paidOrder(): Promise<any> {
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: {
      type: 'takeaway',
      lines: [{ itemId: h.shop.items['Espresso'], quantity: 2, modifierIds: [h.shop.modifiers['Regular']] }],
    },
  });
  expect(created.status).toBe(201);
  const total = created.body.totals.total;
  const paid = await postPayment(h, cashier, created.body.id, { method: 'cash', amount: total, tendered: total });
  expect(paid.body.order.status).toBe('closed');
  return paid.body.order;
}

async function setReceiptPrinter(address: string) {
  await h.deps.knex('printers').where({ location_id: h.shop.locationId }).delete();
  await h.deps.knex('printers').insert({ location_id: h.shop.locationId, name: 'Front', role: 'receipt', address });
}

it('prints the receipt when an order closes and on reprint', async () => {
  const printer = await startFakePrinter();
  try {
    await setReceiptPrinter(printer.address);
    const order = await paidOrder();
    await printer.waitForJobs(1, 10_000);
    const text = printer.text(0);
    expect(text).toContain('Espresso');
    expect(text).toContain(`#${order.orderNumber}`);
    expect(text).toContain((order.totals.total / 100).toFixed(2));

    const reprint = await h.api('POST', `/api/v1/orders/${order.id}/reprint`, {
      token: cashier,
      body: { kind: 'receipt' },
    });
    expect(reprint.status).toBe(202);
    await printer.waitForJobs(2, 10_000);
    expect(printer.text(1)).toContain('Espresso');
  } finally {
    await printer.close();
  }
});

it('closes the order while the printer is down, reports it, and prints once when it comes back', async () => {
  const address = await closedAddress();
  await setReceiptPrinter(address);
  const order = await paidOrder();

  // The order is persisted even though nothing could be printed.
  const deadline = Date.now() + 10_000;
  while (!(await h.deps.knex('orders').where({ id: order.id }).first())?.persisted_at && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  expect((await h.deps.knex('orders').where({ id: order.id }).first()).status).toBe('closed');

  // The failure is reported on the location's orders topic.
  let failure: any;
  while (!failure && Date.now() < deadline) {
    failure = await h.deps.knex('order_events').where({ order_id: order.id, event: 'printer.failed' }).first();
    if (!failure) await new Promise((r) => setTimeout(r, 50));
  }
  expect(failure.data).toMatchObject({ kind: 'receipt', name: 'Front', attempt: 1 });

  const printer = await startFakePrinter(Number(address.split(':').pop()));
  try {
    await printer.waitForJobs(1, 10_000);
    expect(printer.text(0)).toContain(`#${order.orderNumber}`);
    await new Promise((r) => setTimeout(r, 1500)); // more than the retry backoff: no second copy
    expect(printer.jobs).toHaveLength(1);
  } finally {
    await printer.close();
  }
});

it('rejects a reprint of an unknown order or kind', async () => {
  const unknown = await h.api('POST', '/api/v1/orders/00000000-0000-4000-8000-000000000000/reprint', {
    token: cashier,
    body: { kind: 'receipt' },
  });
  expect(unknown.status).toBe(404);
  const order = await paidOrder();
  const bad = await h.api('POST', `/api/v1/orders/${order.id}/reprint`, { token: cashier, body: { kind: 'menu' } });
  expect(bad.status).toBe(422);
  expect(bad.body.errors[0].path).toBe('kind');
});
