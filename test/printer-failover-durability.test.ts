import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startHarness, Harness } from './support/harness';
import { closedAddress, escposToText, FakePrinter, startFakePrinter } from './support/fake-printer';
import { sigkill, startWorkerProcess, stopWorkerProcesses } from './support/worker-process';
import { until } from './support/payments';

/**
 * The worker process that drives the shop's printers is SIGKILLed mid-failover, while the backup
 * printer takes the ticket the first printer refused. After a new worker starts, the ticket is
 * printed on the backup, and whatever the backup prints again is marked COPY: never lost, never
 * an unmarked second ticket.
 */
let h: Harness;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-failover-'));

beforeAll(async () => {
  h = await startHarness({
    centralWorker: false,
    printingWorker: false,
    env: { TILLFLOW_PRINT_MAX_ATTEMPTS: '2', TILLFLOW_PRINT_BACKOFF_MS: '200' },
  });
  await h.deps
    .knex('locations')
    .where({ id: h.shop.locationId })
    .update({ auto_print_receipt: false, auto_print_kitchen: true });
}, 120_000);
afterAll(async () => {
  await stopWorkerProcesses();
  await h?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/**
 * A backup printer whose first connection takes the whole ticket and then holds on (no FIN back,
 * like a printer still busy), so the worker is caught mid-send; later connections print normally.
 */
async function holdingPrinter(): Promise<FakePrinter & { firstTicket: Promise<void> }> {
  const fake = await startFakePrinter();
  const { port } = new URL(fake.address.replace('tcp:', 'http:'));
  let arrived!: () => void;
  const firstTicket = new Promise<void>((resolve) => (arrived = resolve));
  let connections = 0;
  const held: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    if (++connections > 1) {
      socket.pipe(net.connect(Number(port), '127.0.0.1')).pipe(socket);
      return;
    }
    socket.on('data', (chunk) => {
      held.push(chunk);
      arrived();
    });
    // The whole ticket has arrived (the sender's FIN); no FIN goes back, and a killed sender never closes it.
    socket.on('end', () => fake.jobs.unshift(Buffer.concat(held)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    ...fake,
    address,
    text: (i) => escposToText(fake.jobs[i]!),
    firstTicket,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fake.close();
    },
  };
}

it('prints the ticket on the backup after the worker is SIGKILLed mid-failover; a second print is a COPY', async () => {
  const [manager, cashier] = [await h.login('2345'), await h.login('3456')];
  let worker = await startWorkerProcess(h, dataDir, { TILLFLOW_PRINT_LOCATIONS: h.shop.locationId });
  const backup = await holdingPrinter();
  try {
    const add = async (body: Record<string, unknown>) => {
      const res = await h.api('POST', '/api/v1/printers', { token: manager, body: { role: 'kitchen', ...body } });
      expect(res.status).toBe(201);
      return res.body.id as string;
    };
    // A burger is the grill's alone; the bar is the grill's backup.
    const backupId = await add({ name: 'Bar', address: backup.address, categoryIds: [h.shop.categories['Drinks']] });
    await add({
      name: 'Grill',
      address: await closedAddress(),
      categoryIds: [h.shop.categories['Food']],
      backupPrinterId: backupId,
    });

    const created = await h.api('POST', '/api/v1/orders', {
      token: cashier,
      body: { type: 'dine_in', lines: [{ itemId: h.shop.items['Burger'], quantity: 1 }] },
    });
    expect((await h.api('POST', `/api/v1/orders/${created.body.id}/submit`, { token: cashier })).status).toBe(200);

    await backup.firstTicket; // the failover has reached the backup, which is taking the ticket
    await sigkill(worker);
    worker = await startWorkerProcess(h, dataDir, { TILLFLOW_PRINT_LOCATIONS: h.shop.locationId });

    const print = h.deps.temporal.workflow.getHandle(`print-${created.body.id}-kitchen-1`);
    expect(await print.result()).toEqual({ printed: [backupId], failed: [] });
    await until(
      async () => backup.jobs.length,
      (n) => n >= 2,
    );
    const footer = `Order ${created.body.id}`;
    expect(backup.jobs.map((_, i) => backup.text(i)).filter((t) => t.includes(footer)).length).toBeGreaterThan(0);
    for (let i = 1; i < backup.jobs.length; i++) expect(backup.text(i)).toContain('COPY');
  } finally {
    await sigkill(worker);
    await backup.close();
  }
}, 120_000);
