/**
 * Amendment tickets, end to end: a line changed or voided after it went to the kitchen prints an
 * amendment (AMENDED / VOID lines) at the stations concerned, on real TCP printers
 * (test/support/fake-printer.ts), once per change however often the request is retried.
 */
import { startHarness, Harness } from './support/harness';
import { FakePrinter, startFakePrinter } from './support/fake-printer';
import { until } from './support/payments';
import { connectSocket } from './support/ws-client';

let h: Harness;
let cashier: string;
let manager: string;
const open: FakePrinter[] = [];

beforeAll(async () => {
  h = await startHarness();
  [cashier, manager] = await Promise.all([h.login('3456'), h.login('2345')]);
  await h.deps
    .knex('locations')
    .where({ id: h.shop.locationId })
    .update({ auto_print_receipt: false, auto_print_kitchen: true });
}, 120_000);
beforeEach(async () => {
  await h.deps.knex('printers').where({ location_id: h.shop.locationId }).delete();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
});
afterAll(async () => h?.close());

async function station(name: string, category?: string): Promise<FakePrinter> {
  const p = await startFakePrinter();
  open.push(p);
  const categoryIds = category ? [h.shop.categories[category]] : undefined;
  const res = await h.api('POST', '/api/v1/printers', {
    token: manager,
    body: { role: 'kitchen', name, address: p.address, categoryIds },
  });
  expect(res.status).toBe(201);
  return p;
}

/** The result of the order's n-th kitchen print job (1 = the first submit). */
async function printJob(orderId: string, n: number): Promise<{ printed: string[]; failed: string[] }> {
  const handle = h.deps.temporal.workflow.getHandle(`print-${orderId}-kitchen-${n}`);
  await until(
    () =>
      handle.describe().then(
        () => true,
        () => false,
      ),
    Boolean,
  );
  return handle.result();
}

/** An order of two burgers and a sparkling water, sent to the kitchen and printed. */
async function sentOrder(): Promise<{ id: string; lines: { id: string; itemId: string }[] }> {
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: {
      type: 'dine_in',
      lines: [
        { itemId: h.shop.items['Burger'], quantity: 2 },
        { itemId: h.shop.items['Sparkling water'], quantity: 1 },
      ],
    },
  });
  expect(created.status).toBe(201);
  const sent = await h.api('POST', `/api/v1/orders/${created.body.id}/submit`, { token: cashier });
  expect(sent.status).toBe(200);
  await printJob(created.body.id, 1);
  return sent.body;
}

const lineOf = (o: { lines: { id: string; itemId: string }[] }, item: string) =>
  o.lines.find((l) => l.itemId === h.shop.items[item])!.id;

it('prints an amendment with the AMENDED line when a sent line’s quantity goes down', async () => {
  const kitchen = await station('Kitchen');
  const o = await sentOrder();
  const res = await h.api('PATCH', `/api/v1/orders/${o.id}/lines/${lineOf(o, 'Burger')}`, {
    token: cashier,
    body: { quantity: 1 },
  });
  expect(res.status).toBe(200);
  expect(await printJob(o.id, 2)).toMatchObject({ failed: [] });
  expect(kitchen.jobs).toHaveLength(2);
  const text = kitchen.text(1);
  expect(text).toContain('AMENDMENT');
  expect(text).toMatch(/AMENDED 1 x Burger/);
  expect(text).toMatch(/was 2/);
  expect(text).not.toContain('Sparkling water');
});

it('prints a VOID line when a sent line is removed', async () => {
  const kitchen = await station('Kitchen');
  const o = await sentOrder();
  const res = await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${lineOf(o, 'Burger')}?reason=changed+mind`, {
    token: cashier,
    headers: { 'x-approver-pin': '2345' },
  });
  expect(res.status).toBe(200);
  await printJob(o.id, 2);
  expect(kitchen.text(1)).toMatch(/VOID 2 x Burger/);
});

it('prints the amendment only at the station of the changed line', async () => {
  const [bar, grill] = [await station('Bar', 'Drinks'), await station('Grill', 'Food')];
  const o = await sentOrder();
  const res = await h.api('PATCH', `/api/v1/orders/${o.id}/lines/${lineOf(o, 'Burger')}`, {
    token: cashier,
    body: { note: 'no onions' },
  });
  expect(res.status).toBe(200);
  expect((await printJob(o.id, 2)).printed).toHaveLength(1);
  expect(grill.jobs).toHaveLength(2);
  expect(grill.text(1)).toMatch(/AMENDED 2 x Burger/);
  expect(grill.text(1)).toContain('no onions');
  expect(bar.jobs).toHaveLength(1);
});

it('prints one amendment per change however often the request is retried', async () => {
  const kitchen = await station('Kitchen');
  const o = await sentOrder();
  const change = () =>
    h.api('PATCH', `/api/v1/orders/${o.id}/lines/${lineOf(o, 'Burger')}`, {
      token: cashier,
      body: { quantity: 1 },
      headers: { 'idempotency-key': `amend-${o.id}` },
    });
  expect((await change()).status).toBe(200);
  expect((await change()).status).toBe(200);
  // The next change's amendment is the order's third print job: the retry printed none.
  await h.api('PATCH', `/api/v1/orders/${o.id}/lines/${lineOf(o, 'Sparkling water')}`, {
    token: cashier,
    body: { note: 'no ice' },
  });
  await printJob(o.id, 3);
  expect(kitchen.jobs).toHaveLength(3);
  expect(kitchen.text(1)).toMatch(/AMENDED 1 x Burger/);
  expect(kitchen.text(2)).toMatch(/AMENDED 1 x Sparkling water/);
});

it('prints no amendment for a line that was not sent yet', async () => {
  const kitchen = await station('Kitchen');
  const o = await sentOrder();
  const added = await h.api('POST', `/api/v1/orders/${o.id}/lines`, {
    token: cashier,
    body: { itemId: h.shop.items['Croissant'], quantity: 1, modifierIds: [] },
  });
  expect(added.status).toBe(200);
  const croissant = lineOf(added.body, 'Croissant');
  await h.api('PATCH', `/api/v1/orders/${o.id}/lines/${croissant}`, { token: cashier, body: { quantity: 2 } });
  await h.api('POST', `/api/v1/orders/${o.id}/submit`, { token: cashier });
  await printJob(o.id, 2);
  expect(kitchen.text(1)).toMatch(/2 x Croissant/);
  expect(kitchen.text(1)).not.toMatch(/AMEND/);
});

it('shows the amendment on the kitchen topic, marked as one', async () => {
  const kitchenStaff = await h.login('4567');
  const s = await connectSocket(h.baseUrl, kitchenStaff);
  try {
    s.send({ type: 'subscribe', topics: [`kitchen:${h.shop.locationId}`] });
    await s.waitFor((m) => m.type === 'subscribed');
    const o = await sentOrder();
    await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${lineOf(o, 'Sparkling water')}?reason=spilt`, {
      token: cashier,
      headers: { 'x-approver-pin': '2345' },
    });
    const amendment = await s.waitFor(
      (m) => m.event === 'kitchen.ticket' && m.data.orderId === o.id && m.data.amendment,
    );
    expect(amendment.data.lines).toEqual([
      { name: 'Sparkling water', quantity: 1, modifiers: [], note: null, change: 'void' },
    ]);
  } finally {
    await s.close();
  }
});
