import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { DEMO_STAFF } from '../db/seed';
import { expectNoPinLeak } from './support/no-pin';
import { signToken } from '../api/security';
import { connectSocket } from './support/ws-client';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());
// Lockout is per client IP and every request here comes from 127.0.0.1: start each test clean.
beforeEach(async () => {
  await h.deps.knex('login_failures').delete();
});

const login = (body: unknown) => h.api('POST', '/api/v1/auth/login', { body });

describe('login', () => {
  it.each(DEMO_STAFF.map((s) => [s.role, s] as const))(
    'logs in the demo %s and never returns a PIN',
    async (_role, s) => {
      const res = await login({ pin: s.pin });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        token: expect.any(String),
        expiresAt: expect.any(String),
        staff: { id: h.shop.staff[s.name], name: s.name, role: s.role },
      });
      expect(Date.parse(res.body.expiresAt)).toBeGreaterThan(Date.now());
      expectNoPinLeak(res.body);
      // The token works.
      const again = await h.api('POST', '/api/v1/auth/logout', { token: res.body.token });
      expect(again.status).toBe(204);
    },
  );

  it('rejects a wrong PIN with 401', async () => {
    const res = await login({ pin: '9999' });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({
      code: 'UNAUTHENTICATED',
      detail: expect.any(String),
      timestamp: expect.any(String),
    });
  });

  it.each([
    ['too short', { pin: '12' }, 'pin'],
    ['not digits', { pin: 'abcd' }, 'pin'],
    ['a number', { pin: 1234 }, 'pin'],
    ['missing', {}, 'pin'],
  ])('rejects a PIN that is %s with 422 and a field path', async (_what, body, path) => {
    const res = await login(body);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('VALIDATION_ERROR');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it('rejects unknown fields with 422', async () => {
    const res = await login({ pin: '1234', admin: true });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([
      expect.objectContaining({ path: expect.any(String), message: expect.stringContaining('admin') }),
    ]);
  });

  it('rejects malformed JSON with 400', async () => {
    const res = await h.api('POST', '/api/v1/auth/login', { raw: '{"pin": "12' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('BAD_REQUEST');
  });
});

describe('tokens', () => {
  it('logout ends the session: the token then gets 401', async () => {
    const token = await h.login('2345');
    expect((await h.api('GET', '/api/v1/staff', { token })).status).toBe(200);
    const out = await h.api('POST', '/api/v1/auth/logout', { token });
    expect(out.status).toBe(204);
    expect(out.body).toBeUndefined();
    const after = await h.api('GET', '/api/v1/staff', { token });
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('UNAUTHENTICATED');
    expect((await h.api('POST', '/api/v1/auth/logout', { token })).status).toBe(401);
  });

  it('rejects no token, a garbage token and a token signed with another secret', async () => {
    expect((await h.api('GET', '/api/v1/staff')).status).toBe(401);
    expect((await h.api('GET', '/api/v1/staff', { token: 'not-a-token' })).status).toBe(401);
    const forged = await signToken(
      'another-secret'.padEnd(40, 'y'),
      { sessionId: randomUUID(), staffId: h.shop.staff['Admin']!, locationId: h.shop.locationId },
      new Date(Date.now() + 60_000),
    );
    expect((await h.api('GET', '/api/v1/staff', { token: forged })).status).toBe(401);
  });

  it('rejects an expired token and an expired session', async () => {
    const expired = await signToken(
      h.deps.config.tokenSecret,
      { sessionId: randomUUID(), staffId: h.shop.staff['Admin']!, locationId: h.shop.locationId },
      new Date(Date.now() - 60_000),
    );
    expect((await h.api('GET', '/api/v1/staff', { token: expired })).status).toBe(401);

    const token = await h.login('1234');
    expect((await h.api('GET', '/api/v1/staff', { token })).status).toBe(200);
    // The API caches the session; ending it in the database reaches the cache by NOTIFY, which a
    // socket on the same token witnesses (it closes with 4401 from the same notice).
    const witness = await connectSocket(h.baseUrl, token);
    await witness.waitFor((m) => m.type === 'welcome');
    await h.deps
      .knex('sessions')
      .where('staff_id', h.shop.staff['Admin'])
      .update({ expires_at: new Date(Date.now() - 1000) });
    expect((await witness.closed).code).toBe(4401);
    expect((await h.api('GET', '/api/v1/staff', { token })).status).toBe(401);
  });

  it('refuses a token on the replica that logged it out, with no wait for the notice', async () => {
    const token = await h.login('3456');
    expect((await h.api('GET', '/api/v1/orders', { token })).status).toBe(200); // cached now
    expect((await h.api('POST', '/api/v1/auth/logout', { token })).status).toBe(204);
    expect((await h.api('GET', '/api/v1/orders', { token })).status).toBe(401);
  });
});

describe('lockout', () => {
  it('locks the client out after five wrong PINs, even for the right PIN, until the failures age out', async () => {
    const sessions = async () => Number((await h.deps.knex('sessions').count('* as n').first())!.n);
    const before = await sessions();
    for (let i = 0; i < 4; i++) expect((await login({ pin: '0000' })).status).toBe(401);
    const fifth = await login({ pin: '0000' });
    expect(fifth.status).toBe(429);
    expect(fifth.body.code).toBe('LOCKED_OUT');
    const retryAfter = Number(fifth.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(300);

    const right = await login({ pin: '1234' });
    expect(right.status).toBe(429);
    expect(right.body.code).toBe('LOCKED_OUT');
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await sessions()).toBe(before);

    await h.deps.knex('login_failures').update({ at: h.deps.knex.raw("at - interval '10 minutes'") });
    const later = await login({ pin: '1234' });
    expect(later.status).toBe(200);
    expect(later.body.staff.role).toBe('admin');
    expect(await sessions()).toBe(before + 1);
    await h.deps.knex('login_failures').delete();
  });

  it('does not let a correct PIN reset the count: guesses interleaved with your own PIN still lock out', async () => {
    for (let i = 0; i < 4; i++) {
      expect((await login({ pin: '0000' })).status).toBe(401);
      expect((await login({ pin: '3456' })).status).toBe(200);
    }
    const fifth = await login({ pin: '0000' });
    expect(fifth.status).toBe(429);
    expect(fifth.body.code).toBe('LOCKED_OUT');
    await h.deps.knex('login_failures').delete();
  });

  it('does not lock out for validation errors (they never check a PIN)', async () => {
    for (let i = 0; i < 6; i++) expect((await login({ pin: '12' })).status).toBe(422);
    expect((await login({ pin: '1234' })).status).toBe(200);
  });
});
