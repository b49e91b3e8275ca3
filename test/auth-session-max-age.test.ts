import { createHash } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { ConfigError, loadConfig } from '../platform/config';

/**
 * Sessions end at TILLFLOW_SESSION_MAX_AGE_HOURS after the login however often they are
 * refreshed (then the PIN again), and refresh-token rows are deleted once they are of no use:
 * the session's expired ones on rotation, all of them at logout, expired ones of any session at
 * each login. Time passing is simulated by moving the rows' timestamps back.
 */

const REFRESH = '/api/v1/auth/refresh';
const HOUR = 3600_000;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    env: { TILLFLOW_SESSION_MAX_AGE_HOURS: '16', TILLFLOW_RATE_LIMIT_REFRESH_FAILURES: '2' },
  });
});
afterAll(async () => h?.close());

const login = async (pin = '3456') => {
  const res = await h.api('POST', '/api/v1/auth/login', { body: { pin } });
  expect(res.status).toBe(200);
  return res.body;
};
const refresh = (refreshToken: string) => h.api('POST', REFRESH, { body: { refreshToken } });
const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');
const sessionOf = async (refreshToken: string): Promise<string> =>
  (await h.deps.knex('refresh_tokens').where('token_hash', hashOf(refreshToken)).first('session_id')).session_id;
const tokensOf = (sessionId: string) =>
  h.deps.knex('refresh_tokens').where('session_id', sessionId).pluck('token_hash');
/** Moves the session's login back by `ms` (as if it had been running that long). */
const age = (sessionId: string, ms: number) =>
  h.deps
    .knex('sessions')
    .where('id', sessionId)
    .update({ created_at: new Date(Date.now() - ms) });

describe('the maximum session age', () => {
  it('lets refresh renew a session only up to the maximum age from its login', async () => {
    const session = await login();
    const id = await sessionOf(session.refreshToken);
    const createdAt = new Date(Date.now() - 10 * HOUR);
    await h.deps.knex('sessions').where('id', id).update({ created_at: createdAt });
    const res = await refresh(session.refreshToken);
    expect(res.status).toBe(200);
    // 12 h from now (the session lifetime) would pass the 16 h cap, 6 h from now.
    expect(Date.parse(res.body.refreshExpiresAt)).toBe(createdAt.getTime() + 16 * HOUR);
    expect(Date.parse(res.body.expiresAt)).toBeLessThanOrEqual(Date.parse(res.body.refreshExpiresAt));
  });

  it('refuses a refresh past the maximum age with 401 in the error format, and the PIN logs in again', async () => {
    const session = await login();
    await age(await sessionOf(session.refreshToken), 16 * HOUR + 60_000);
    const res = await refresh(session.refreshToken);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({
      code: 'UNAUTHENTICATED',
      detail: expect.stringMatching(/maximum age/),
      timestamp: expect.any(String),
    });
    expect((await h.api('GET', '/api/v1/settings', { token: session.token })).status).toBe(401);
    const again = await login();
    expect((await refresh(again.refreshToken)).status).toBe(200);
  });

  it('does not count such refusals as wrong refresh tokens (no lockout at the end of shifts)', async () => {
    for (let i = 0; i < 3; i++) {
      const old = await login();
      await age(await sessionOf(old.refreshToken), 17 * HOUR);
      expect((await refresh(old.refreshToken)).status).toBe(401);
    }
    const fresh = await login();
    expect((await refresh(fresh.refreshToken)).status).toBe(200);
  });
});

describe('refresh-token rows', () => {
  it('a rotation deletes the session’s expired tokens; used ones stay until they expire, so reuse is still caught', async () => {
    const session = await login();
    const id = await sessionOf(session.refreshToken);
    const first = await refresh(session.refreshToken);
    expect(await tokensOf(id)).toHaveLength(2);
    await h.deps
      .knex('refresh_tokens')
      .where('token_hash', hashOf(session.refreshToken))
      .update({ expires_at: new Date(Date.now() - 1000) });
    const second = await refresh(first.body.refreshToken);
    expect(second.status).toBe(200);
    expect((await tokensOf(id)).sort()).toEqual([first.body.refreshToken, second.body.refreshToken].map(hashOf).sort());
    // The used, unexpired one presented again: reuse, the session is revoked.
    expect((await refresh(first.body.refreshToken)).status).toBe(401);
    expect((await h.api('GET', '/api/v1/settings', { token: second.body.token })).status).toBe(401);
  });

  it('a logout deletes the session’s refresh tokens', async () => {
    const session = await login();
    const id = await sessionOf(session.refreshToken);
    await refresh(session.refreshToken).then((r) =>
      h.api('POST', '/api/v1/auth/logout', { token: r.body.token }).then((out) => expect(out.status).toBe(204)),
    );
    expect(await tokensOf(id)).toEqual([]);
  });

  it('a login deletes expired refresh tokens of abandoned sessions', async () => {
    const abandoned = await login();
    const id = await sessionOf(abandoned.refreshToken);
    await h.deps
      .knex('refresh_tokens')
      .where('session_id', id)
      .update({ expires_at: new Date(Date.now() - 1000) });
    await login('2345');
    expect(await tokensOf(id)).toEqual([]);
  });
});

describe('TILLFLOW_SESSION_MAX_AGE_HOURS', () => {
  const cfg = (env: Record<string, string>) => loadConfig({ TILLFLOW_TOKEN_SECRET: 'x'.repeat(40), ...env });
  it('defaults to 16 hours and takes fractions of an hour', () => {
    expect(cfg({}).sessionMaxAgeSeconds).toBe(16 * 3600);
    expect(cfg({ TILLFLOW_SESSION_MAX_AGE_HOURS: '0.5' }).sessionMaxAgeSeconds).toBe(1800);
  });
  it.each(['0', '-1', 'abc', '745'])('refuses %s', (value) => {
    expect(() => cfg({ TILLFLOW_SESSION_MAX_AGE_HOURS: value })).toThrow(ConfigError);
  });
});
