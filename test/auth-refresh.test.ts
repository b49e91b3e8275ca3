import { startHarness, Harness } from './support/harness';

const LOGIN = '/api/v1/auth/login';
const REFRESH = '/api/v1/auth/refresh';

const login = async (h: Harness, pin = '3456') => {
  const res = await h.api('POST', LOGIN, { body: { pin } });
  expect(res.status).toBe(200);
  return res.body;
};
const refresh = (h: Harness, refreshToken: unknown) => h.api('POST', REFRESH, { body: { refreshToken } });
const works = async (h: Harness, token: string) => (await h.api('GET', '/api/v1/settings', { token })).status;

describe('refresh tokens', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { TILLFLOW_RATE_LIMIT_REFRESH_FAILURES: '1000' } });
  });
  afterAll(async () => h?.close());

  it('login returns a short-lived access token and an opaque refresh token, stored only hashed', async () => {
    const session = await login(h);
    expect(session.refreshToken).toMatch(/^tfr_[A-Za-z0-9_-]{43}$/);
    const accessLife = Date.parse(session.expiresAt) - Date.now();
    expect(accessLife).toBeGreaterThan(0);
    expect(accessLife).toBeLessThanOrEqual(15 * 60_000);
    expect(Date.parse(session.refreshExpiresAt)).toBeGreaterThan(Date.parse(session.expiresAt));
    const stored = JSON.stringify(await h.deps.knex('refresh_tokens').select('*'));
    expect(stored).not.toContain(session.refreshToken);
    expect(stored).not.toContain(session.refreshToken.slice(4));
  });

  it('rotates: each refresh gives a working access token and a new refresh token', async () => {
    const session = await login(h);
    const first = await refresh(h, session.refreshToken);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      token: expect.any(String),
      expiresAt: expect.any(String),
      refreshToken: expect.stringMatching(/^tfr_/),
      staff: { id: session.staff.id, role: 'cashier' },
    });
    expect(first.body.refreshToken).not.toBe(session.refreshToken);
    expect(await works(h, first.body.token)).toBe(200);
    const second = await refresh(h, first.body.refreshToken);
    expect(second.status).toBe(200);
    expect(await works(h, second.body.token)).toBe(200);
  });

  it('reuse of a rotated refresh token revokes the whole session and answers 401', async () => {
    const session = await login(h);
    const rotated = await refresh(h, session.refreshToken);
    expect(rotated.status).toBe(200);
    const reused = await refresh(h, session.refreshToken);
    expect(reused.status).toBe(401);
    expect(reused.body.code).toBe('UNAUTHENTICATED');
    // Whoever holds the newer tokens (the thief or the terminal) is logged out too.
    expect(await works(h, rotated.body.token)).toBe(401);
    expect(await works(h, session.token)).toBe(401);
    expect((await refresh(h, rotated.body.refreshToken)).status).toBe(401);
  });

  it('logout revokes the refresh token', async () => {
    const session = await login(h);
    expect((await h.api('POST', '/api/v1/auth/logout', { token: session.token })).status).toBe(204);
    const res = await refresh(h, session.refreshToken);
    expect(res.status).toBe(401);
  });

  it('an expired refresh token no longer refreshes', async () => {
    const session = await login(h);
    const session2 = await login(h);
    // Time passes past the refresh token's life (and with it the session's).
    await h.deps.knex('refresh_tokens').update({ expires_at: new Date(Date.now() - 1000) });
    expect((await refresh(h, session.refreshToken)).status).toBe(401);
    expect((await refresh(h, session2.refreshToken)).status).toBe(401);
  });

  it('refuses the refresh token of a deactivated staff member', async () => {
    const admin = await login(h, '1234');
    const created = await h.api('POST', '/api/v1/staff', {
      token: admin.token,
      body: { name: 'Temp', role: 'cashier', pin: '5821' },
    });
    expect(created.status).toBe(201);
    const session = await login(h, '5821');
    expect((await h.api('DELETE', `/api/v1/staff/${created.body.id}`, { token: admin.token })).status).toBe(204);
    expect((await refresh(h, session.refreshToken)).status).toBe(401);
  });

  it.each([
    ['unknown', { refreshToken: 'tfr_' + 'A'.repeat(43) }, 401],
    ['an access token', 'ACCESS', 422],
    ['not a refresh token', { refreshToken: 'hello' }, 422],
    ['a number', { refreshToken: 12345 }, 422],
    ['null', { refreshToken: null }, 422],
    ['missing', {}, 422],
    ['with unknown fields', { refreshToken: 'tfr_' + 'A'.repeat(43), admin: true }, 422],
    ['huge', { refreshToken: 'tfr_' + 'A'.repeat(100_000) }, 422],
    ['an array', [], 422],
    ['odd unicode', { refreshToken: 'tfr_\u0000\ud83d\ude00' + 'A'.repeat(41) }, 422],
  ])('answers a body that is %s without a 5xx', async (_what, body, status) => {
    const session = await login(h);
    const sent = body === 'ACCESS' ? { refreshToken: session.token } : body;
    const res = await h.api('POST', REFRESH, { body: sent });
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(status === 401 ? 'UNAUTHENTICATED' : 'VALIDATION_ERROR');
    // The session the refresh token of which was not sent is untouched.
    expect((await refresh(h, session.refreshToken)).status).toBe(200);
  });

  it('answers malformed JSON with 400', async () => {
    const res = await h.api('POST', REFRESH, { raw: '{"refreshToken": "tfr_' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('BAD_REQUEST');
  });
});

describe('short access tokens and refresh rate limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: { TILLFLOW_ACCESS_TOKEN_TTL_SECONDS: '2', TILLFLOW_RATE_LIMIT_REFRESH_FAILURES: '3' },
    });
  });
  afterAll(async () => h?.close());

  it('an access token expires on its own while its refresh token still gets a new one', async () => {
    const session = await login(h);
    while ((await works(h, session.token)) === 200) await new Promise((r) => setTimeout(r, 250));
    expect(await works(h, session.token)).toBe(401);
    const res = await refresh(h, session.refreshToken);
    expect(res.status).toBe(200);
    expect(res.body.staff.id).toBe(session.staff.id);
  });

  it('locks a client out of refreshing after too many wrong refresh tokens, with Retry-After', async () => {
    const session = await login(h);
    for (let i = 0; i < 3; i++) expect((await refresh(h, 'tfr_' + String(i).repeat(43))).status).toBe(401);
    const limited = await refresh(h, session.refreshToken);
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
