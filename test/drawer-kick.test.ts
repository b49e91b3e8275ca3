/** A cash payment opens the cash drawer: the receipt printer gets the ESC/POS drawer-kick pulse. */
import { startHarness, Harness } from './support/harness';
import { FakePrinter, startFakePrinter } from './support/fake-printer';
import { postPayment } from './support/payments';
import { WorkflowNotFoundError } from '@temporalio/client';
import { DRAWER_KICK } from '../activities/printing/printer';
import { workflowIds } from '../core/events';

let h: Harness;
let cashier: string;
let printer: FakePrinter;

beforeAll(async () => {
  h = await startHarness();
  cashier = await h.login('3456');
  printer = await startFakePrinter();
  await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ auto_print_kitchen: false });
  await h.deps
    .knex('printers')
    .insert({ location_id: h.shop.locationId, name: 'Front', role: 'receipt', address: printer.address });
});
afterAll(async () => {
  await printer?.close();
  await h?.close();
});

async function openOrder(): Promise<any> {
  const res = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Burger'], quantity: 1 }] },
  });
  expect(res.status).toBe(201);
  return res.body;
}

it('kicks the drawer on a cash payment that leaves the order open (a pulse, no paper)', async () => {
  await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ auto_print_receipt: false });
  const o = await openOrder();
  const before = printer.jobs.length;
  const paid = await postPayment(h, cashier, o.id, { method: 'cash', amount: 500, tendered: 500 });
  expect(paid.body.order.status).toBe('open');
  await printer.waitForJobs(before + 1, 10_000);
  const job = printer.jobs[before]!;
  expect(job.includes(DRAWER_KICK)).toBe(true);
  expect(printer.text(before).trim()).toBe('');
});

it('kicks the drawer with the receipt when the cash payment closes the order', async () => {
  await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ auto_print_receipt: true });
  const o = await openOrder();
  const before = printer.jobs.length;
  const paid = await postPayment(h, cashier, o.id, {
    method: 'cash',
    amount: o.totals.total,
    tendered: o.totals.total,
  });
  expect(paid.body.order.status).toBe('closed');
  await printer.waitForJobs(before + 1, 10_000);
  expect(printer.jobs[before]!.includes(DRAWER_KICK)).toBe(true);
  expect(printer.text(before)).toContain(`#${o.orderNumber}`);
  const handle = h.deps.temporal.workflow.getHandle(`order-${o.id}`);
  await handle.result();
  expect(printer.jobs).toHaveLength(before + 1); // one job: the receipt carried the kick
});

it('starts no print workflow for a cash payment where no receipt printer is enabled', async () => {
  await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ auto_print_receipt: true });
  await h.deps.knex('printers').where({ location_id: h.shop.locationId, role: 'receipt' }).update({ enabled: false });
  try {
    const o = await openOrder();
    const paid = await postPayment(h, cashier, o.id, {
      method: 'cash',
      amount: o.totals.total,
      tendered: o.totals.total,
    });
    expect(paid.body.order.status).toBe('closed');
    await h.deps.temporal.workflow.getHandle(`order-${o.id}`).result();
    // The order started its prints before it ended: none was started, neither receipt nor kick.
    const kick = h.deps.temporal.workflow.getHandle(workflowIds.print(o.id, 'receipt', 1));
    await expect(kick.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  } finally {
    await h.deps.knex('printers').where({ location_id: h.shop.locationId, role: 'receipt' }).update({ enabled: true });
  }
});
