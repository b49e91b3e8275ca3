import { startHarness, Harness } from './support/harness';
import { connectSocket, TestSocket } from './support/ws-client';
import { startApiServer, ApiServer } from '../api/server';
import { verifyToken } from '../api/security';

// A revoked session must not keep listening: its sockets close with 4401 on every API replica,
// whoever revoked it (logout, a staff change, or anything else writing sessions.revoked_at).
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

async function socket(token: string, baseUrl = h.baseUrl) {
  const s = await connectSocket(baseUrl, token);
  sockets.push(s);
  await s.waitFor((m) => m.type === 'welcome');
  return s;
}

async function sessionOf(token: string): Promise<string> {
  return (await verifyToken(h.deps.config.tokenSecret, token))!.sessionId;
}

it('closes the socket with 4401 when its session logs out', async () => {
  const cashier = await h.login('3456');
  const s = await socket(cashier);
  expect((await h.api('POST', '/api/v1/auth/logout', { token: cashier })).status).toBe(204);
  expect((await s.closed).code).toBe(4401);
});

it('closes the socket with 4401 when sessions.revoked_at is set directly in the database', async () => {
  const cashier = await h.login('3456');
  const s = await socket(cashier);
  await h.deps
    .knex('sessions')
    .where('id', await sessionOf(cashier))
    .update({ revoked_at: h.deps.knex.fn.now() });
  expect((await s.closed).code).toBe(4401);
});

it('closes the socket on another API replica', async () => {
  const cashier = await h.login('3456');
  const s = await socket(cashier, replica.url);
  await h.api('POST', '/api/v1/auth/logout', { token: cashier });
  expect((await s.closed).code).toBe(4401);
});

it('closes the socket when the session row is deleted', async () => {
  const cashier = await h.login('3456');
  const s = await socket(cashier);
  await h.deps
    .knex('sessions')
    .where('id', await sessionOf(cashier))
    .delete();
  expect((await s.closed).code).toBe(4401);
});

it("leaves the sockets of the same person's other sessions open", async () => {
  const first = await h.login('3456');
  const second = await h.login('3456');
  const kept = await socket(second);
  const dropped = await socket(first);
  await h.api('POST', '/api/v1/auth/logout', { token: first });
  await dropped.closed;
  kept.send({ type: 'ping' });
  await kept.waitFor((m) => m.type === 'pong');
  expect(kept.raw.readyState).toBe(kept.raw.OPEN);
});

it('closes a socket whose session was revoked while the revocation listener was reconnecting', async () => {
  const cashier = await h.login('3456');
  const s = await socket(cashier);
  // Cut every replica's listener, so the revocation's notice reaches no one.
  await h.deps.knex.raw(
    "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'LISTEN tillflow_revocations%'",
  );
  await h.deps
    .knex('sessions')
    .where('id', await sessionOf(cashier))
    .update({ revoked_at: h.deps.knex.fn.now() });
  expect((await s.closed).code).toBe(4401);
});

it('closes the socket with 4401 when its session expires', async () => {
  const cashier = await h.login('3456');
  await h.deps
    .knex('sessions')
    .where('id', await sessionOf(cashier))
    .update({ expires_at: h.deps.knex.raw("now() + interval '2 seconds'") });
  const s = await socket(cashier);
  expect((await s.closed).code).toBe(4401);
});
