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
