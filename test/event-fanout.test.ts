import { randomUUID } from 'node:crypto';
import { Client as PgClient, type Notification } from 'pg';
import { startHarness, Harness } from './support/harness';
import { connectSocket, TestSocket } from './support/ws-client';
import { startApiServer, ApiServer } from '../api/server';
import { publishLocationEvents, NOTIFY_ROWS_MAX_BYTES, type EventNotification } from '../db/events';
import { EVENTS_CHANNEL } from '../core/events';

/**
 * The NOTIFY that announces written events carries the rows when they fit in a payload, so a
 * replica delivers them without reading the table; a batch too large for a payload names its rows
 * by id and still reaches every subscriber whole.
 */
let h: Harness;
let secondReplica: ApiServer;
let listener: PgClient;
const heard: EventNotification[] = [];
const sockets: TestSocket[] = [];

beforeAll(async () => {
  h = await startHarness();
  secondReplica = await startApiServer(h.deps, { databaseUrl: h.databaseUrl, port: 0, host: '127.0.0.1' });
  listener = new PgClient({ connectionString: h.databaseUrl });
  await listener.connect();
  listener.on('notification', (n: Notification) => n.payload && heard.push(JSON.parse(n.payload)));
  await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await listener?.end();
  await secondReplica?.close();
  await h?.close();
});

/** A manager's socket on each replica, subscribed to the location's topic. */
async function subscribers(): Promise<TestSocket[]> {
  const token = await h.login('2345');
  return Promise.all(
    [h.baseUrl, secondReplica.url].map(async (url) => {
      const s = await connectSocket(url, token);
      sockets.push(s);
      s.send({ type: 'subscribe', topics: [`orders:${h.shop.locationId}`] });
      await s.waitFor((m) => m.type === 'subscribed');
      return s;
    }),
  );
}

async function publish(event: string, data: unknown): Promise<void> {
  await h.deps.knex.transaction((trx) =>
    publishLocationEvents(trx, h.shop.locationId, [{ event, data, dedupeKey: randomUUID() }]),
  );
}

/** The first notification heard (since `heard` was emptied) on the location's topic. */
async function notified(): Promise<EventNotification> {
  const topic = `orders:${h.shop.locationId}`;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    const n = heard.find((x) => x.t.includes(topic));
    if (n) return n;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no notification on the location topic');
}

it('carries a small batch of events in the notification itself', async () => {
  const sockets = await subscribers();
  const data = { tableId: randomUUID(), status: 'occupied' };
  heard.length = 0;
  await publish('table.updated', data);
  const n = await notified();
  expect(n.rows).toEqual([
    expect.objectContaining({
      l: h.shop.locationId,
      v: 0,
      e: 'table.updated',
      t: [`orders:${h.shop.locationId}`],
      d: data,
    }),
  ]);
  expect(n.ids).toEqual([n.rows![0]!.id]);
  for (const s of sockets) {
    const got = await s.waitFor((m) => m.event === 'table.updated' && m.data.tableId === data.tableId);
    expect(got).toMatchObject({ topic: `orders:${h.shop.locationId}`, data, orderId: null });
  }
});

it('names the rows of a batch too large for a payload, and every subscriber still gets them whole', async () => {
  const sockets = await subscribers();
  const data = { tableId: randomUUID(), note: 'x'.repeat(NOTIFY_ROWS_MAX_BYTES) };
  heard.length = 0;
  await publish('table.updated', data);
  const n = await notified();
  expect(n.rows).toBeUndefined();
  expect(n.ids).toHaveLength(1);
  for (const s of sockets) {
    const got = await s.waitFor((m) => m.event === 'table.updated' && m.data.tableId === data.tableId);
    expect(got.data).toEqual(data);
  }
});
