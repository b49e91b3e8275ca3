import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { expectNoPinLeak } from './support/no-pin';
import { hashPin, pinLookup } from '../db/pins';

let h: Harness;
let admin: string;
let manager: string;
let cashier: string;
let kitchen: string;
/** Every 2xx body this file received: none may mention a PIN. */
const okBodies: unknown[] = [];

beforeAll(async () => {
  h = await startHarness();
  [admin, manager, cashier, kitchen] = await Promise.all(['1234', '2345', '3456', '4567'].map((p) => h.login(p)));
});
afterAll(async () => h?.close());
beforeEach(async () => {
  await h.deps.knex('login_failures').delete();
});

async function api(method: string, path: string, token?: string, body?: unknown) {
  const res = await h.api(method, path, { token, body });
  if (res.status < 300) okBodies.push(res.body);
  return res;
}
const staffCount = async () => Number((await h.deps.knex('staff').count('* as n').first())!.n);
const STAFF_KEYS = ['active', 'createdAt', 'hourlyRate', 'id', 'locationId', 'name', 'role', 'updatedAt'];

describe('staff CRUD', () => {
  it('creates, reads, lists, updates and deletes a staff member', async () => {
    const created = await api('POST', '/api/v1/staff', manager, {
      name: 'Dana',
      role: 'cashier',
      pin: '5678',
      hourlyRate: 1800,
    });
    expect(created.status).toBe(201);
    expect(Object.keys(created.body).sort()).toEqual(STAFF_KEYS);
    expect(created.body).toMatchObject({
      name: 'Dana',
      role: 'cashier',
      hourlyRate: 1800,
      active: true,
      locationId: h.shop.locationId,
    });
    const id = created.body.id;

    const row = await h.deps.knex('staff').where({ id }).first();
    expect(row.pin_lookup).toBe(pinLookup(h.deps.config.tokenSecret, '5678'));
    expect(row.pin_hash).toMatch(/^scrypt\$/);
    expect(row.pin_hash).not.toContain('5678');

    const one = await api('GET', `/api/v1/staff/${id}`, manager);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(created.body);

    const list = await api('GET', '/api/v1/staff', manager);
    expect(list.status).toBe(200);
    expect(list.body.staff.map((s: { name: string }) => s.name)).toEqual([
      'Admin',
      'Cashier',
      'Dana',
      'Kitchen',
      'Manager',
      'Owner',
    ]);

    const login = await h.api('POST', '/api/v1/auth/login', { body: { pin: '5678' } });
    expect(login.status).toBe(200);
    expect(login.body.staff.id).toBe(id);

    const patched = await api('PATCH', `/api/v1/staff/${id}`, manager, {
      name: 'Dana K',
      hourlyRate: 1900,
      pin: '5679',
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id, name: 'Dana K', role: 'cashier', hourlyRate: 1900, active: true });
    expect(Date.parse(patched.body.updatedAt)).toBeGreaterThan(Date.parse(created.body.updatedAt));
    expect((await h.api('POST', '/api/v1/auth/login', { body: { pin: '5678' } })).status).toBe(401);
    expect((await h.api('POST', '/api/v1/auth/login', { body: { pin: '5679' } })).status).toBe(200);

    const deleted = await api('DELETE', `/api/v1/staff/${id}`, manager);
    expect(deleted.status).toBe(204);
    const gone = await api('GET', `/api/v1/staff/${id}`, manager);
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('NOT_FOUND');
    expect((await api('PATCH', `/api/v1/staff/${id}`, manager, { name: 'X' })).status).toBe(404);
    expect((await api('DELETE', `/api/v1/staff/${id}`, manager)).status).toBe(404);
    expect((await api('GET', '/api/v1/staff', manager)).body.staff.map((s: { id: string }) => s.id)).not.toContain(id);
    expect(await h.deps.knex('staff').where({ id }).first()).toMatchObject({
      active: false,
      deleted_at: expect.any(Date),
    });
    expect((await h.api('POST', '/api/v1/auth/login', { body: { pin: '5679' } })).status).toBe(401);

    // The deleted member's PIN is free again.
    const reuse = await api('POST', '/api/v1/staff', manager, { name: 'Eli', role: 'kitchen', pin: '5679' });
    expect(reuse.status).toBe(201);
    expect(reuse.body).toMatchObject({ hourlyRate: 0, active: true });
  });

  it('deactivating someone stops their login and token; reactivating restores login', async () => {
    const { body } = await api('POST', '/api/v1/staff', manager, { name: 'Fay', role: 'cashier', pin: '6001' });
    const token = await h.login('6001');
    const ownShifts = `/api/v1/staff/${body.id}/shifts`;
    expect((await api('GET', ownShifts, token)).status).toBe(200);
    const off = await api('PATCH', `/api/v1/staff/${body.id}`, manager, { active: false });
    expect(off.status).toBe(200);
    expect(off.body.active).toBe(false);
    expect((await api('GET', ownShifts, token)).status).toBe(401);
    expect((await h.api('POST', '/api/v1/auth/login', { body: { pin: '6001' } })).status).toBe(401);
    expect((await api('PATCH', `/api/v1/staff/${body.id}`, manager, { active: true })).body.active).toBe(true);
    expect((await h.api('POST', '/api/v1/auth/login', { body: { pin: '6001' } })).status).toBe(200);
  });

  it('delete revokes that staff member’s sessions and closes their open shift', async () => {
    const { body } = await api('POST', '/api/v1/staff', admin, { name: 'Gus', role: 'manager', pin: '6002' });
    const token = await h.login('6002');
    expect((await h.api('POST', '/api/v1/timeclock/clock-in', { body: { pin: '6002' } })).status).toBe(200);
    expect((await h.api('POST', '/api/v1/timeclock/break-start', { body: { pin: '6002' } })).status).toBe(200);
    expect((await api('GET', '/api/v1/staff', token)).status).toBe(200);
    expect((await api('DELETE', `/api/v1/staff/${body.id}`, admin)).status).toBe(204);
    const after = await h.api('GET', '/api/v1/staff', { token });
    expect(after.status).toBe(401);
    const sessions = await h.deps.knex('sessions').where('staff_id', body.id);
    expect(sessions.length).toBeGreaterThan(0);
    expect(sessions.every((s: { revoked_at: Date | null }) => s.revoked_at !== null)).toBe(true);
    const shift = await h.deps.knex('shifts').where('staff_id', body.id).first();
    expect(shift.clock_out_at).toBeInstanceOf(Date);
    expect(await h.deps.knex('breaks').where('shift_id', shift.id).whereNull('end_at')).toHaveLength(0);
    expect((await h.api('POST', '/api/v1/timeclock/clock-in', { body: { pin: '6002' } })).status).toBe(401);
  });
});

describe('staff access', () => {
  const routes = (id: string): Array<[string, string, unknown?]> => [
    ['GET', '/api/v1/staff'],
    ['POST', '/api/v1/staff', { name: 'Nope', role: 'cashier', pin: '7001' }],
    ['GET', `/api/v1/staff/${id}`],
    ['PATCH', `/api/v1/staff/${id}`, { name: 'Nope' }],
    ['DELETE', `/api/v1/staff/${id}`],
  ];

  it('needs a token on every staff route', async () => {
    for (const [method, path, body] of routes(h.shop.staff['Kitchen']!)) {
      const res = await api(method, path, undefined, body);
      expect([method, path, res.status, res.body.code]).toEqual([method, path, 401, 'UNAUTHENTICATED']);
    }
  });

  it('forbids cashier and kitchen on every staff route, and writes nothing', async () => {
    const count = await staffCount();
    for (const token of [cashier, kitchen]) {
      for (const [method, path, body] of routes(h.shop.staff['Kitchen']!)) {
        const res = await api(method, path, token, body);
        expect([method, path, res.status, res.body.code]).toEqual([method, path, 403, 'FORBIDDEN']);
      }
    }
    expect(await staffCount()).toBe(count);
    expect(await h.deps.knex('staff').where('id', h.shop.staff['Kitchen']).first()).toMatchObject({
      name: 'Kitchen',
      deleted_at: null,
    });
  });

  it('keeps admins out of a manager’s reach', async () => {
    const adminId = h.shop.staff['Admin']!;
    const count = await staffCount();
    expect((await api('POST', '/api/v1/staff', manager, { name: 'Boss', role: 'admin', pin: '7002' })).status).toBe(
      403,
    );
    expect(await staffCount()).toBe(count);
    expect((await api('PATCH', `/api/v1/staff/${adminId}`, manager, { name: 'Renamed' })).status).toBe(403);
    expect((await api('DELETE', `/api/v1/staff/${adminId}`, manager)).status).toBe(403);
    expect(await h.deps.knex('staff').where('id', adminId).first()).toMatchObject({ name: 'Admin', deleted_at: null });

    const { body: kit } = await api('POST', '/api/v1/staff', manager, { name: 'Hal', role: 'kitchen', pin: '7003' });
    const raise = await api('PATCH', `/api/v1/staff/${kit.id}`, manager, { role: 'admin' });
    expect(raise.status).toBe(403);
    expect((await api('GET', `/api/v1/staff/${kit.id}`, manager)).body.role).toBe('kitchen');
    // An admin may.
    expect((await api('PATCH', `/api/v1/staff/${kit.id}`, admin, { role: 'admin' })).body.role).toBe('admin');
    const created = await api('POST', '/api/v1/staff', admin, { name: 'Ida', role: 'admin', pin: '7004' });
    expect(created.status).toBe(201);
    expect(created.body.role).toBe('admin');
  });

  it('lets nobody delete or deactivate themselves', async () => {
    for (const [token, name] of [
      [manager, 'Manager'],
      [admin, 'Admin'],
    ] as const) {
      const id = h.shop.staff[name]!;
      const del = await api('DELETE', `/api/v1/staff/${id}`, token);
      expect(del.status).toBe(409);
      expect(del.body.code).toBe('CONFLICT');
      expect((await api('PATCH', `/api/v1/staff/${id}`, token, { active: false })).status).toBe(409);
      expect(await h.deps.knex('staff').where({ id }).first()).toMatchObject({ active: true, deleted_at: null });
    }
  });

  it('scopes everything to the caller’s location', async () => {
    const [loc] = await h.deps.knex('locations').insert({ name: 'Other shop' }).returning('id');
    const [other] = await h.deps
      .knex('staff')
      .insert({
        location_id: loc.id,
        name: 'Stranger',
        role: 'cashier',
        pin_lookup: pinLookup(h.deps.config.tokenSecret, '8001'),
        pin_hash: await hashPin('8001'),
      })
      .returning('id');
    expect((await api('GET', `/api/v1/staff/${other.id}`, admin)).status).toBe(404);
    expect((await api('PATCH', `/api/v1/staff/${other.id}`, admin, { name: 'Mine' })).status).toBe(404);
    expect((await api('DELETE', `/api/v1/staff/${other.id}`, admin)).status).toBe(404);
    expect((await api('GET', `/api/v1/staff/${other.id}/shifts`, admin)).status).toBe(404);
    expect((await api('GET', '/api/v1/staff', admin)).body.staff.map((s: { id: string }) => s.id)).not.toContain(
      other.id,
    );
    expect(await h.deps.knex('staff').where('id', other.id).first()).toMatchObject({
      name: 'Stranger',
      deleted_at: null,
    });
    // The same PIN may exist at another location.
    expect((await api('POST', '/api/v1/staff', admin, { name: 'Jo', role: 'cashier', pin: '8001' })).status).toBe(201);
  });
});

describe('staff validation', () => {
  it('rejects a PIN already in use with 409, without saying whose, and writes nothing', async () => {
    const count = await staffCount();
    const dup = await api('POST', '/api/v1/staff', manager, { name: 'Kim', role: 'cashier', pin: '3456' });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ code: 'CONFLICT', detail: 'PIN already in use' });
    expect(JSON.stringify(dup.body)).not.toContain('Cashier');
    expect(await staffCount()).toBe(count);

    const kitchenId = h.shop.staff['Kitchen']!;
    const before = await h.deps.knex('staff').where('id', kitchenId).first();
    const patch = await api('PATCH', `/api/v1/staff/${kitchenId}`, manager, { pin: '3456', name: 'Changed' });
    expect(patch.status).toBe(409);
    expect(await h.deps.knex('staff').where('id', kitchenId).first()).toEqual(before);
    // Keeping one's own PIN is fine.
    expect((await api('PATCH', `/api/v1/staff/${kitchenId}`, manager, { pin: '4567' })).status).toBe(200);
  });

  it('lets only one of two racing creates with the same PIN win', async () => {
    const count = await staffCount();
    const results = await Promise.all(
      [1, 2, 3].map((i) => api('POST', '/api/v1/staff', manager, { name: `Racer ${i}`, role: 'cashier', pin: '9100' })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    expect(await staffCount()).toBe(count + 1);
  });

  it.each([
    ['bad role', { name: 'Lu', role: 'superuser', pin: '9001' }, 'role'],
    ['short pin', { name: 'Lu', role: 'cashier', pin: '12' }, 'pin'],
    ['numeric pin', { name: 'Lu', role: 'cashier', pin: 9001 }, 'pin'],
    ['letters in pin', { name: 'Lu', role: 'cashier', pin: '90a1' }, 'pin'],
    ['negative hourlyRate', { name: 'Lu', role: 'cashier', pin: '9001', hourlyRate: -1 }, 'hourlyRate'],
    ['fractional hourlyRate', { name: 'Lu', role: 'cashier', pin: '9001', hourlyRate: 12.5 }, 'hourlyRate'],
    ['string hourlyRate', { name: 'Lu', role: 'cashier', pin: '9001', hourlyRate: '1500' }, 'hourlyRate'],
    ['empty name', { name: '', role: 'cashier', pin: '9001' }, 'name'],
    ['missing name', { role: 'cashier', pin: '9001' }, 'name'],
    ['missing pin', { name: 'Lu', role: 'cashier' }, 'pin'],
    ['string active', { name: 'Lu', role: 'cashier', pin: '9001', active: 'yes' }, 'active'],
  ])('rejects a create with %s (422) and writes nothing', async (_what, body, path) => {
    const count = await staffCount();
    const res = await api('POST', '/api/v1/staff', manager, body);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('VALIDATION_ERROR');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    expect(await staffCount()).toBe(count);
  });

  it('rejects unknown fields, such as a pin_hash, with 422', async () => {
    const res = await api('POST', '/api/v1/staff', manager, {
      name: 'Lu',
      role: 'cashier',
      pin: '9001',
      pin_hash: 'x',
    });
    expect(res.status).toBe(422);
    expect(res.body.errors[0].message).toContain('pin_hash');
    const patch = await api('PATCH', `/api/v1/staff/${h.shop.staff['Cashier']}`, manager, { locationId: randomUUID() });
    expect(patch.status).toBe(422);
  });

  it('rejects an empty PATCH and a bad PATCH value with 422', async () => {
    const id = h.shop.staff['Cashier']!;
    const empty = await api('PATCH', `/api/v1/staff/${id}`, manager, {});
    expect(empty.status).toBe(422);
    expect(empty.body.code).toBe('VALIDATION_ERROR');
    expect(empty.body.errors).toHaveLength(1);
    const bad = await api('PATCH', `/api/v1/staff/${id}`, manager, { role: 'boss' });
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0].path).toBe('role');
    const nul = await api('PATCH', `/api/v1/staff/${id}`, manager, { hourlyRate: null });
    expect(nul.status).toBe(422);
    expect(await h.deps.knex('staff').where({ id }).first()).toMatchObject({ role: 'cashier', hourly_rate: 1500 });
  });

  it('answers a malformed id with 422 and an unknown id with 404', async () => {
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const bad = await api(
        method,
        '/api/v1/staff/not-a-uuid',
        manager,
        method === 'PATCH' ? { name: 'X' } : undefined,
      );
      expect(bad.status).toBe(422);
      expect(bad.body.errors[0].path).toBe('params.id');
      const unknown = await api(
        method,
        `/api/v1/staff/${randomUUID()}`,
        manager,
        method === 'PATCH' ? { name: 'X' } : undefined,
      );
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe('NOT_FOUND');
    }
  });
});

describe('responses', () => {
  it('never contained a PIN in any successful response of this file', () => {
    expect(okBodies.length).toBeGreaterThan(20);
    for (const body of okBodies) {
      if (body !== undefined) expectNoPinLeak(body);
    }
  });
});
