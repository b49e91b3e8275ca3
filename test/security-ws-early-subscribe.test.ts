import { startHarness, Harness } from './support/harness';
import { connectSocket, TestSocket } from './support/ws-client';

// Browsers send `subscribe` in `onopen`, while the server is still checking the token: nothing a
// client sends in that window may be lost.
let h: Harness;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await h?.close();
});

async function openAndSend(token: string, messages: unknown[]) {
  const s = await connectSocket(h.baseUrl, token, { sendOnOpen: messages });
  sockets.push(s);
  return s;
}

/**
 * Holds the token check (its sessions query) until `during` has run, so the early messages
 * certainly arrive while the server is still checking: a lock on `sessions`, released once
 * Postgres shows the check waiting for it.
 */
async function whileTokenCheckWaits<T>(during: () => Promise<T>): Promise<T> {
  const trx = await h.deps.knex.transaction();
  try {
    await trx.raw('LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE');
    const result = await during();
    for (;;) {
      const waiting = await h.deps.knex.raw(
        "select 1 from pg_stat_activity where wait_event_type = 'Lock' and query ilike '%from \"sessions\"%'",
      );
      if (waiting.rows.length > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    return result;
  } finally {
    await trx.commit();
  }
}

it('answers a subscribe sent from the open handler', async () => {
  const cashier = await h.login('3456');
  const topic = `orders:${h.shop.locationId}`;
  const s = await whileTokenCheckWaits(() => openAndSend(cashier, [{ type: 'subscribe', topics: [topic] }]));
  const ack = await s.waitFor((m) => m.type === 'subscribed');
  expect(ack.topics).toEqual([topic]);
});

it('delivers events to a subscription made from the open handler', async () => {
  const cashier = await h.login('3456');
  const s = await whileTokenCheckWaits(() =>
    openAndSend(cashier, [{ type: 'subscribe', topics: [`orders:${h.shop.locationId}`] }]),
  );
  await s.waitFor((m) => m.type === 'subscribed');
  const created = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } });
  const event = await s.waitFor((m) => m.type === 'event' && m.orderId === created.body.id);
  expect(event.event).toBe('order.updated');
});

it('answers every message sent from the open handler, in the order sent', async () => {
  const cashier = await h.login('3456');
  const loc = h.shop.locationId;
  const s = await whileTokenCheckWaits(() =>
    openAndSend(cashier, [
      { type: 'ping' },
      { type: 'subscribe', topics: [`orders:${loc}`] },
      { type: 'unsubscribe', topics: [`orders:${loc}`] },
    ]),
  );
  await s.waitFor((m) => m.type === 'unsubscribed');
  expect(s.messages.map((m) => m.type).filter((t) => t !== 'welcome')).toEqual(['pong', 'subscribed', 'unsubscribed']);
});

it('closes with 4401 and answers nothing else when the token is invalid, even to early messages', async () => {
  const s = await openAndSend('not-a-token', [{ type: 'subscribe', topics: [`orders:${h.shop.locationId}`] }]);
  const { code } = await s.closed;
  expect(code).toBe(4401);
  expect(s.messages.map((m) => m.type)).toEqual(['error']);
  expect(s.messages[0].code).toBe('UNAUTHENTICATED');
});
