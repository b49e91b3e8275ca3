/**
 * Kitchen stations and printer failover, end to end: orders submitted over HTTP, tickets printed
 * by the real print workflow on real TCP listeners (test/support/fake-printer.ts).
 */
import { startHarness, Harness } from './support/harness';
import { closedAddress, FakePrinter, startFakePrinter, startVanishingPrinter } from './support/fake-printer';
import { connectSocket } from './support/ws-client';
import { until } from './support/payments';
import { submitDineIn } from './support/kitchen';

let h: Harness;
let cashier: string;
let manager: string;
const open: FakePrinter[] = [];

beforeAll(async () => {
  // Two attempts per printer: failover comes after the configured attempts.
  h = await startHarness({ env: { TILLFLOW_PRINT_MAX_ATTEMPTS: '2' } });
  [cashier, manager] = await Promise.all([h.login('3456'), h.login('2345')]);
  await h.deps
    .knex('locations')
    .where({ id: h.shop.locationId })
    .update({ auto_print_receipt: false, auto_print_kitchen: true });
});
beforeEach(async () => {
  await h.deps.knex('printers').where({ location_id: h.shop.locationId }).delete();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
});
afterAll(async () => h?.close());

async function printer(): Promise<FakePrinter> {
  const p = await startFakePrinter();
  open.push(p);
  return p;
}

async function addPrinter(body: Record<string, unknown>): Promise<string> {
  const res = await h.api('POST', '/api/v1/printers', { token: manager, body: { role: 'kitchen', ...body } });
  expect(res.status).toBe(201);
  return res.body.id;
}

/** Opens an order with these items, sends it to the kitchen and waits for its print job's result. */
async function submit(
  items: string[],
): Promise<{ orderId: string; orderNumber: number; result: { printed: string[]; failed: string[] } }> {
  const order = await submitDineIn(h, cashier, items);
  // The checkout starts the print right after answering the submit, in its next workflow task.
  const print = h.deps.temporal.workflow.getHandle(`print-${order.id}-kitchen-1`);
  await until(
    () =>
      print.describe().then(
        () => true,
        () => false,
      ),
    Boolean,
  );
  const result = await print.result();
  return { orderId: order.id, orderNumber: order.orderNumber, result };
}

describe('kitchen stations', () => {
  it('splits a ticket per station by category; lines no station takes go to the printer without a filter', async () => {
    const [bar, grill, main] = await Promise.all([printer(), printer(), printer()]);
    await addPrinter({ name: 'Bar', address: bar.address, categoryIds: [h.shop.categories['Drinks']] });
    await addPrinter({ name: 'Grill', address: grill.address, categoryIds: [h.shop.categories['Food']] });
    await addPrinter({ name: 'Main', address: main.address });

    const { result } = await submit(['Sparkling water', 'Burger', 'Espresso']);
    expect(result).toMatchObject({ failed: [] });
    expect(result.printed).toHaveLength(3);
    expect(bar.jobs).toHaveLength(1);
    expect(bar.text(0)).toContain('Sparkling water');
    expect(bar.text(0)).not.toMatch(/Burger|Espresso/);
    expect(grill.text(0)).toContain('Burger');
    expect(grill.text(0)).not.toMatch(/Sparkling water|Espresso/);
    expect(main.text(0)).toContain('Espresso');
    expect(main.text(0)).not.toMatch(/Sparkling water|Burger/);
  });

  it('prints a drink-only order only at the bar', async () => {
    const [bar, grill] = await Promise.all([printer(), printer()]);
    const barId = await addPrinter({ name: 'Bar', address: bar.address, categoryIds: [h.shop.categories['Drinks']] });
    await addPrinter({ name: 'Grill', address: grill.address, categoryIds: [h.shop.categories['Food']] });

    const { result } = await submit(['Sparkling water']);
    expect(result).toEqual({ printed: [barId], failed: [] });
    expect(bar.jobs).toHaveLength(1);
    expect(grill.jobs).toHaveLength(0);
  });

  it('sends lines no station takes to every station when all kitchen printers are stations', async () => {
    const [bar, grill] = await Promise.all([printer(), printer()]);
    await addPrinter({ name: 'Bar', address: bar.address, categoryIds: [h.shop.categories['Drinks']] });
    await addPrinter({ name: 'Grill', address: grill.address, categoryIds: [h.shop.categories['Food']] });

    const { result } = await submit(['Espresso']);
    expect(result.printed).toHaveLength(2);
    expect(bar.text(0)).toContain('Espresso');
    expect(grill.text(0)).toContain('Espresso');
  });

  it('refuses categories of no such category with 422', async () => {
    const res = await h.api('POST', '/api/v1/printers', {
      token: manager,
      body: {
        name: 'Bar',
        role: 'kitchen',
        address: 'tcp://10.0.0.5:9100',
        categoryIds: ['00000000-0000-4000-8000-000000000000'],
      },
    });
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: any) => e.path)).toContain('categoryIds[0]');
  });
});

describe('printer failover', () => {
  // The grill's tickets fail over to the bar: a station whose own filter keeps this order off it.
  const bar = () => ({ categoryIds: [h.shop.categories['Drinks']] });
  const grill = () => ({ categoryIds: [h.shop.categories['Food']] });

  it('moves a ticket to the backup after the attempts when the printer refuses: printed once, not marked COPY, printer.failover published', async () => {
    const backup = await printer();
    const backupId = await addPrinter({ name: 'Backup', address: backup.address, ...bar() });
    const mainId = await addPrinter({
      name: 'Main',
      address: await closedAddress(),
      backupPrinterId: backupId,
      ...grill(),
    });
    const ws = await connectSocket(h.baseUrl, cashier);
    try {
      ws.send({ type: 'subscribe', topics: [`orders:${h.shop.locationId}`] });
      await ws.waitFor((m) => m.type === 'subscribed');

      const { orderId, orderNumber, result } = await submit(['Burger']);
      expect(result).toEqual({ printed: [backupId], failed: [] });
      expect(backup.jobs).toHaveLength(1);
      expect(backup.text(0)).toContain(`#${orderNumber}`);
      expect(backup.text(0)).not.toContain('COPY');
      const failover = await ws.waitFor((m) => m.event === 'printer.failover');
      expect(failover.data).toMatchObject({
        orderId,
        fromPrinterId: mainId,
        toPrinterId: backupId,
        kind: 'kitchen',
        copy: false,
      });
    } finally {
      await ws.close();
    }
  });

  it('marks the backup copy COPY when the first printer vanished mid-ticket', async () => {
    const vanishing = await startVanishingPrinter();
    try {
      const backup = await printer();
      const backupId = await addPrinter({ name: 'Backup', address: backup.address, ...bar() });
      await addPrinter({ name: 'Main', address: vanishing.address, backupPrinterId: backupId, ...grill() });

      const { orderNumber, result } = await submit(['Burger']);
      expect(vanishing.received.length).toBe(1); // it took (part of) the ticket: its fate is unknown
      expect(result).toEqual({ printed: [backupId], failed: [] });
      expect(backup.jobs).toHaveLength(1);
      expect(backup.text(0)).toContain('*** COPY ***');
      expect(backup.text(0)).toContain(`#${orderNumber}`);
    } finally {
      await vanishing.close();
    }
  });

  it('follows the backup chain past a backup that is down too', async () => {
    const last = await printer();
    const lastId = await addPrinter({ name: 'Last', address: last.address, ...bar() });
    const middleId = await addPrinter({
      name: 'Middle',
      address: await closedAddress(),
      backupPrinterId: lastId,
      ...bar(),
    });
    await addPrinter({ name: 'Main', address: await closedAddress(), backupPrinterId: middleId, ...grill() });

    const { result } = await submit(['Burger']);
    expect(result).toEqual({ printed: [lastId], failed: [] });
    expect(last.jobs).toHaveLength(1);
    expect(last.text(0)).not.toContain('COPY');
  });

  it('refuses a backup chain that leads back to the printer (no loops) with 422', async () => {
    const a = await addPrinter({ name: 'A', address: 'tcp://10.0.0.1:9100' });
    const b = await addPrinter({ name: 'B', address: 'tcp://10.0.0.2:9100', backupPrinterId: a });
    const loop = await h.api('PATCH', `/api/v1/printers/${a}`, { token: manager, body: { backupPrinterId: b } });
    expect(loop.status).toBe(422);
    expect(loop.body.errors.map((e: any) => e.path)).toContain('backupPrinterId');
    const self = await h.api('PATCH', `/api/v1/printers/${a}`, { token: manager, body: { backupPrinterId: a } });
    expect(self.status).toBe(422);
    expect((await h.api('GET', `/api/v1/printers/${a}`, { token: manager })).body.backupPrinterId).toBeNull();
  });
});
