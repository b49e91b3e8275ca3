import { startHarness, Harness } from './support/harness';

/**
 * PINs are unique per location, so setting one tells the setter whether it was taken. That must
 * not become a way to find colleagues' PINs: PIN changes are limited per actor and audited, and
 * nobody reaches the PIN or role of someone above them.
 */
const LIMIT = 3;
let h: Harness;
let admin: string;
let manager: string;
let cashierId: string;
beforeAll(async () => {
  h = await startHarness({ env: { TILLFLOW_RATE_LIMIT_PIN_CHANGES: String(LIMIT) } });
  [admin, manager] = await Promise.all([h.login('1234'), h.login('2345')]);
  cashierId = h.shop.staff['Cashier']!;
});
afterAll(async () => h?.close());
beforeEach(async () => {
  await h.deps.knex('rate_limits').delete();
  await h.deps.knex('login_failures').delete();
});

const setPin = (token: string, id: string, pin: string) =>
  h.api('PATCH', `/api/v1/staff/${id}`, { token, body: { pin } });

describe('rate limit on PIN changes', () => {
  it("refuses the actor's PIN change past the limit with 429 RATE_LIMITED and Retry-After", async () => {
    for (let i = 0; i < LIMIT; i++) expect((await setPin(manager, cashierId, String(5100 + i))).status).toBe(200);
    const over = await setPin(manager, cashierId, '5199');
    expect(over.status).toBe(429);
    expect(over.body.code).toBe('RATE_LIMITED');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(over.headers.get('retry-after'))).toBeLessThanOrEqual(600);
  });

  it('counts attempts that hit a taken PIN, so probing for PINs stops at the limit', async () => {
    const answers = [];
    for (const pin of ['1234', '2345', '4567', '1234']) answers.push((await setPin(manager, cashierId, pin)).status);
    expect(answers).toEqual([409, 409, 409, 429]);
  });

  it("keeps one actor's budget apart from another's", async () => {
    for (let i = 0; i < LIMIT; i++) await setPin(manager, cashierId, String(5200 + i));
    expect((await setPin(manager, cashierId, '5299')).status).toBe(429);
    expect((await setPin(admin, cashierId, '5298')).status).toBe(200);
  });

  it('counts a PIN given when creating a staff member', async () => {
    for (let i = 0; i < LIMIT; i++) {
      const res = await h.api('POST', '/api/v1/staff', {
        token: manager,
        body: { name: `New ${i}`, role: 'cashier', pin: String(5300 + i) },
      });
      expect(res.status).toBe(201);
    }
    const over = await h.api('POST', '/api/v1/staff', {
      token: manager,
      body: { name: 'One more', role: 'cashier', pin: '5399' },
    });
    expect(over.status).toBe(429);
    expect(over.body.code).toBe('RATE_LIMITED');
  });
});

describe('audit', () => {
  it('writes an audit row for a PIN change, naming actor and member, without the PIN', async () => {
    expect((await setPin(manager, cashierId, '5401')).status).toBe(200);
    const row = await h.deps
      .knex('audit_log')
      .where({ action: 'staff.pin_changed', subject: cashierId })
      .orderBy('id', 'desc')
      .first();
    expect(row).toMatchObject({ staff_id: h.shop.staff['Manager'], location_id: h.shop.locationId });
    expect(JSON.stringify(row)).not.toContain('5401');
  });

  it('writes an audit row for a refused (taken) PIN, without the PIN', async () => {
    expect((await setPin(manager, cashierId, '4567')).status).toBe(409);
    const row = await h.deps
      .knex('audit_log')
      .where({ action: 'staff.pin_refused', subject: cashierId })
      .orderBy('id', 'desc')
      .first();
    expect(row).toMatchObject({ staff_id: h.shop.staff['Manager'] });
    expect(JSON.stringify(row)).not.toContain('4567');
  });

  it('writes an audit row for a role change with the old and new role', async () => {
    const created = await h.api('POST', '/api/v1/staff', {
      token: admin,
      body: { name: 'Role swap', role: 'cashier', pin: '5402' },
    });
    expect(
      (await h.api('PATCH', `/api/v1/staff/${created.body.id}`, { token: manager, body: { role: 'kitchen' } })).status,
    ).toBe(200);
    const row = await h.deps
      .knex('audit_log')
      .where({ action: 'staff.role_changed', subject: created.body.id })
      .first();
    expect(row.data).toEqual({ from: 'cashier', to: 'kitchen' });
  });
});

describe('ranks', () => {
  it("does not let a manager set an admin's PIN", async () => {
    const res = await setPin(manager, h.shop.staff['Admin']!, '5501');
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('FORBIDDEN');
  });

  it('does not let a manager give anyone a role above manager', async () => {
    const res = await h.api('PATCH', `/api/v1/staff/${cashierId}`, { token: manager, body: { role: 'admin' } });
    expect(res.status).toBe(403);
  });

  it('lets a manager set the PIN of another manager (same rank)', async () => {
    const other = await h.api('POST', '/api/v1/staff', {
      token: admin,
      body: { name: 'Second manager', role: 'manager', pin: '5502' },
    });
    expect((await setPin(manager, other.body.id, '5503')).status).toBe(200);
  });
});

describe('PIN length', () => {
  it('accepts an 8-digit PIN for an admin, who then logs in with it', async () => {
    const created = await h.api('POST', '/api/v1/staff', {
      token: admin,
      body: { name: 'Long PIN', role: 'admin', pin: '20481024' },
    });
    expect(created.status).toBe(201);
    const login = await h.api('POST', '/api/v1/auth/login', { body: { pin: '20481024' } });
    expect(login.status).toBe(200);
    expect(login.body.staff.id).toBe(created.body.id);
  });

  it('refuses a 6-digit PIN for a cashier with 422 on pin', async () => {
    const res = await setPin(admin, cashierId, '123456');
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['pin']);
  });

  it('refuses a 9-digit PIN for an admin with 422', async () => {
    const res = await h.api('POST', '/api/v1/staff', {
      token: admin,
      body: { name: 'Too long', role: 'admin', pin: '123456789' },
    });
    expect(res.status).toBe(422);
  });
});
