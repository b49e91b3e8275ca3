import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { connectSocket, TestSocket } from './support/ws-client';
import { WS_LIMITS } from '../api/realtime/ws';

// One socket must not be able to hog the API: frame size, topics per message and per socket,
// subscribe rate, and what the server echoes back are all bounded.
let h: Harness;
let cashier: string;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  h = await startHarness();
  cashier = await h.login('3456');
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await h?.close();
});

async function socket() {
  const s = await connectSocket(h.baseUrl, cashier);
  sockets.push(s);
  await s.waitFor((m) => m.type === 'welcome');
  return s;
}

async function createOrders(n: number): Promise<string[]> {
  const ids: string[] = [];
  while (ids.length < n) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, n - ids.length) }, () =>
        h.api('POST', '/api/v1/orders', { token: cashier, body: { id: randomUUID(), type: 'takeaway' } }),
      ),
    );
    ids.push(...batch.map((r) => r.body.id as string));
  }
  return ids;
}

const orders = () => `orders:${h.shop.locationId}`;

it('closes a socket that sends a frame larger than the limit (1009) instead of parsing it', async () => {
  const s = await socket();
  const topics = Array.from({ length: 20_000 }, (_, i) => `order:${i}`);
  s.send({ type: 'subscribe', topics });
  expect((await s.closed).code).toBe(1009);
});

it('refuses a subscribe with more topics than one message may carry, without echoing them', async () => {
  const s = await socket();
  const topics = Array.from({ length: WS_LIMITS.topicsPerMessage + 1 }, (_, i) => `display:t${i}`);
  s.send({ type: 'subscribe', topics });
  const error = await s.waitFor((m) => m.type === 'error');
  expect(error).toMatchObject({ code: 'VALIDATION_ERROR', count: topics.length });
  expect(error.topics).toBeUndefined();
  expect(s.messages.some((m) => m.type === 'subscribed')).toBe(false);
});

it('echoes only a bounded prefix of each refused topic and a bounded number of them', async () => {
  const s = await socket();
  const topics = Array.from({ length: WS_LIMITS.topicsPerMessage }, (_, i) => `nope:${i}:${'x'.repeat(2_000)}`);
  s.send({ type: 'subscribe', topics });
  const error = await s.waitFor((m) => m.type === 'error');
  expect(error).toMatchObject({ code: 'FORBIDDEN', refusedCount: topics.length });
  expect(error.topics.length).toBeLessThanOrEqual(WS_LIMITS.echoTopics);
  for (const t of error.topics) expect(t.length).toBeLessThanOrEqual(WS_LIMITS.echoTopicChars);
});

it('holds at most the per-socket topic cap, however the subscribes are split', async () => {
  const ids = await createOrders(WS_LIMITS.topicsPerSocket + 10);
  const s = await socket();
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += WS_LIMITS.topicsPerMessage)
    chunks.push(ids.slice(i, i + WS_LIMITS.topicsPerMessage).map((id) => `order:${id}`));
  for (const topics of chunks) s.send({ type: 'subscribe', topics });
  while (s.messages.filter((m) => m.type === 'subscribed').length < chunks.length)
    await s.waitFor(() => false, 200).catch(() => undefined);
  const accepted = s.messages.filter((m) => m.type === 'subscribed').flatMap((m) => m.topics);
  expect(accepted).toHaveLength(WS_LIMITS.topicsPerSocket);
  expect(s.messages.filter((m) => m.type === 'error').reduce((n, m) => n + m.refusedCount, 0)).toBe(10);
});

it('refuses subscribes beyond the per-socket rate with RATE_LIMITED', async () => {
  const s = await socket();
  const burst = WS_LIMITS.subscribesPerWindow + 10;
  for (let i = 0; i < burst; i++) s.send({ type: 'subscribe', topics: [orders()] });
  const answers = () => s.messages.filter((m) => m.type === 'subscribed' || m.code === 'RATE_LIMITED');
  while (answers().length < burst) await s.waitFor(() => false, 200).catch(() => undefined);
  expect(s.messages.filter((m) => m.type === 'subscribed')).toHaveLength(WS_LIMITS.subscribesPerWindow);
  expect(s.messages.filter((m) => m.code === 'RATE_LIMITED')).toHaveLength(10);
});

it('answers malformed messages with an error each and keeps serving the socket', async () => {
  const s = await socket();
  const bad = [
    'not json',
    'null',
    '5',
    '"subscribe"',
    { type: 'subscribe', topics: 'orders' },
    { type: 'subscribe', topics: [1] },
    { type: 'subscribe', topics: [''] },
    { type: 'nope' },
  ];
  for (const m of bad) s.send(m);
  s.send({ type: 'ping' });
  await s.waitFor((m) => m.type === 'pong');
  const errors = s.messages.filter((m) => m.type === 'error');
  expect(errors.map((m) => m.code)).toEqual([
    'BAD_REQUEST',
    'BAD_REQUEST',
    'BAD_REQUEST',
    'BAD_REQUEST',
    'VALIDATION_ERROR',
    'VALIDATION_ERROR',
    'VALIDATION_ERROR',
    'BAD_REQUEST',
  ]);
});
