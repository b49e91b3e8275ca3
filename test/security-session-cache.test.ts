import { startHarness, Harness } from './support/harness';
import { connectSocket, TestSocket } from './support/ws-client';
import { startApiServer, ApiServer } from '../api/server';

// Each API replica caches the tokens it resolved (issue 10). A cached token must stop working
// on every replica as soon as its session ends there, whoever ended it and wherever: the
// replica's revocation listener drops it. A socket on that replica with the same token is the
// witness that the revocation has reached it (it closes with 4401 from the same notice).
let h: Harness;
let replica: ApiServer;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  h = await startHarness();
  replica = await startApiServer(h.deps, { databaseUrl: h.databaseUrl, port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await replica?.close();
  await h?.close();
});

const ordersOnReplica = (token: string) =>
  fetch(`${replica.url}/api/v1/orders`, { headers: { authorization: `Bearer ${token}` } });

/** Logs the cashier in and has the replica resolve (and cache) the token. */
async function cachedOnReplica(): Promise<{ token: string; socket: TestSocket }> {
  const token = await h.login('3456');
  expect((await ordersOnReplica(token)).status).toBe(200);
  expect((await ordersOnReplica(token)).status).toBe(200);
  const socket = await connectSocket(replica.url, token);
  sockets.push(socket);
  await socket.waitFor((m) => m.type === 'welcome');
  return { token, socket };
}

it('refuses a token the replica cached once it logs out on another replica', async () => {
  const { token, socket } = await cachedOnReplica();
  expect((await h.api('POST', '/api/v1/auth/logout', { token })).status).toBe(204);
  expect((await socket.closed).code).toBe(4401);
  expect((await ordersOnReplica(token)).status).toBe(401);
});

it('refuses a token the replica cached once a manager changes its role on another replica', async () => {
  const { token, socket } = await cachedOnReplica();
  const manager = await h.login('2345');
  const changed = await h.api('PATCH', `/api/v1/staff/${h.shop.staff['Cashier']}`, {
    token: manager,
    body: { role: 'kitchen' },
  });
  expect(changed.status).toBe(200);
  expect((await socket.closed).code).toBe(4401);
  expect((await ordersOnReplica(token)).status).toBe(401);
});

/**
 * The replica's revocation listener hears nothing until `resume` (its socket is paused): whatever
 * the replica refuses meanwhile, it refuses on its own knowledge, as when the notice is still on
 * its way under load and the client's next request comes first.
 */
function deafen(server: ApiServer): () => void {
  const stream = (server.hub as unknown as { listener: { connection: { stream: import('node:net').Socket } } }).listener
    .connection.stream;
  stream.pause();
  return () => stream.resume();
}

const onReplica = (method: string, path: string, token: string, body?: unknown) =>
  fetch(`${replica.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });

it('refuses a cached token on the replica that deleted its staff member, before its notice arrives', async () => {
  const manager = await h.login('2345');
  const staff = await h.api('POST', '/api/v1/staff', {
    token: manager,
    body: { name: 'Leaving soon', role: 'cashier', pin: '8642' },
  });
  expect(staff.status).toBe(201);
  const token = await h.login('8642');
  expect((await ordersOnReplica(token)).status).toBe(200);
  const resume = deafen(replica);
  try {
    expect((await onReplica('DELETE', `/api/v1/staff/${staff.body.id}`, manager)).status).toBe(204);
    expect((await ordersOnReplica(token)).status).toBe(401);
  } finally {
    resume();
  }
});

it('refuses a cached token on the replica it logged out on, before its notice arrives', async () => {
  const token = await h.login('3456');
  expect((await ordersOnReplica(token)).status).toBe(200);
  const resume = deafen(replica);
  try {
    expect((await onReplica('POST', '/api/v1/auth/logout', token)).status).toBe(204);
    expect((await ordersOnReplica(token)).status).toBe(401);
  } finally {
    resume();
  }
});
