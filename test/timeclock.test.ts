import { randomUUID } from 'node:crypto';
import { expectNoPinLeak } from './support/no-pin';
import { startHarness, Harness } from './support/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());
// Wrong PINs here count toward the per-IP login lockout: start each test clean.
beforeEach(async () => {
  await h.deps.knex('login_failures').delete();
});

type Action = 'clock-in' | 'clock-out' | 'break-start' | 'break-end';
const punch = (action: Action, pin: string, extra: object = {}) =>
  h.api('POST', `/api/v1/timeclock/${action}`, { body: { pin, ...extra } });
const rows = async () => ({
  shifts: await h.deps.knex('shifts').orderBy('clock_in_at'),
  breaks: await h.deps.knex('breaks').orderBy('start_at'),
});

describe('timeclock', () => {
  it('runs a full day: clock in, break, back, clock out', async () => {
    const staff = { id: h.shop.staff['Cashier'], name: 'Cashier', role: 'cashier' };

    const inRes = await punch('clock-in', '3456');
    expect(inRes.status).toBe(200);
    expect(inRes.body).toMatchObject({
      staff,
      status: 'clocked_in',
      shift: { staffId: staff.id, clockOutAt: null, breaks: [], workedMinutes: 0, breakMinutes: 0, wage: 0 },
    });
    expect(Object.keys(inRes.body.staff).sort()).toEqual(['id', 'name', 'role']);
    const shiftId = inRes.body.shift.id;
    expect(await h.deps.knex('shifts').where('id', shiftId).first()).toMatchObject({
      staff_id: staff.id,
      hourly_rate: 1500,
      clock_out_at: null,
      location_id: h.shop.locationId,
    });

    const breakStart = await punch('break-start', '3456');
    expect(breakStart.status).toBe(200);
    expect(breakStart.body).toMatchObject({
      staff,
      status: 'on_break',
      shift: { id: shiftId, breaks: [{ startAt: expect.any(String), endAt: null }] },
    });

    const breakEnd = await punch('break-end', '3456');
    expect(breakEnd.status).toBe(200);
    expect(breakEnd.body).toMatchObject({
      status: 'clocked_in',
      shift: { id: shiftId, clockOutAt: null, breaks: [{ endAt: expect.any(String) }] },
    });

    const out = await punch('clock-out', '3456');
    expect(out.status).toBe(200);
    expect(out.body).toMatchObject({
      staff,
      status: 'clocked_out',
      shift: { id: shiftId, clockOutAt: expect.any(String), workedMinutes: 0 },
    });
    expectNoPinLeak(out.body);
    const { shifts, breaks } = await rows();
    expect(shifts).toHaveLength(1);
    expect(shifts[0].clock_out_at).toBeInstanceOf(Date);
    expect(breaks).toHaveLength(1);
    expect(breaks[0].end_at).toBeInstanceOf(Date);
    expect(await h.deps.knex('login_failures').count('* as n').first()).toEqual({ n: '0' });
  });

  it('answers every impossible transition with 409 and writes nothing', async () => {
    const pin = '2345';
    const expectConflict = async (action: Action, detail: RegExp) => {
      const before = await rows();
      const res = await punch(action, pin);
      expect([action, res.status, res.body.code]).toEqual([action, 409, 'CONFLICT']);
      expect(res.body.detail).toMatch(detail);
      expect(await rows()).toEqual(before);
    };
    await expectConflict('clock-out', /not clocked in/i);
    await expectConflict('break-start', /not clocked in/i);
    await expectConflict('break-end', /not on a break/i);
    expect((await punch('clock-in', pin)).status).toBe(200);
    await expectConflict('clock-in', /already clocked in/i);
    await expectConflict('break-end', /not on a break/i);
    expect((await punch('break-start', pin)).status).toBe(200);
    await expectConflict('break-start', /already on a break/i);
    await expectConflict('clock-in', /already clocked in/i);

    // Clocking out while on a break ends the break first.
    const out = await punch('clock-out', pin);
    expect(out.status).toBe(200);
    expect(out.body.status).toBe('clocked_out');
    expect(out.body.shift.breaks).toEqual([{ startAt: expect.any(String), endAt: out.body.shift.clockOutAt }]);
    await expectConflict('clock-out', /not clocked in/i);
  });

  it('lets only one of several concurrent clock-ins succeed', async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => punch('clock-in', '4567')));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409]);
    expect(
      await h.deps.knex('shifts').where('staff_id', h.shop.staff['Kitchen']).whereNull('clock_out_at'),
    ).toHaveLength(1);
    const outs = await Promise.all([1, 2, 3].map(() => punch('clock-out', '4567')));
    expect(outs.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    expect(
      await h.deps.knex('shifts').where('staff_id', h.shop.staff['Kitchen']).whereNull('clock_out_at'),
    ).toHaveLength(0);
  });

  it('snapshots the hourly rate at clock-in', async () => {
    const adminId = h.shop.staff['Admin'];
    await h.deps.knex('staff').where('id', adminId).update({ hourly_rate: 3000 });
    const inRes = await punch('clock-in', '1234');
    await h.deps.knex('staff').where('id', adminId).update({ hourly_rate: 9999 });
    await h.deps
      .knex('shifts')
      .where('id', inRes.body.shift.id)
      .update({ clock_in_at: h.deps.knex.raw("now() - interval '60 minutes 10 seconds'") });
    const out = await punch('clock-out', '1234');
    expect(out.body.shift).toMatchObject({ workedMinutes: 60, wage: 3000 });
    expect(await h.deps.knex('shifts').where('id', inRes.body.shift.id).first()).toMatchObject({ hourly_rate: 3000 });
  });

  it('rejects a wrong PIN with 401 and bad input with 422, writing nothing', async () => {
    const before = await rows();
    const wrong = await punch('clock-in', '0000');
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('UNAUTHENTICATED');
    for (const body of [
      { pin: '12' },
      {},
      { pin: '3456', staffId: h.shop.staff['Cashier'] },
      { pin: '3456', locationId: 'x' },
    ]) {
      const res = await h.api('POST', '/api/v1/timeclock/clock-in', { body });
      expect(res.status).toBe(422);
      expect(res.body.errors.length).toBeGreaterThan(0);
    }
    // A PIN at another location is simply wrong there.
    expect((await punch('clock-in', '3456', { locationId: randomUUID() })).status).toBe(401);
    expect(await rows()).toEqual(before);
  });

  it('counts wrong PINs toward the same lockout as login', async () => {
    for (let i = 0; i < 4; i++) expect((await punch('clock-in', '0000')).status).toBe(401);
    const fifth = await punch('clock-in', '0000');
    expect(fifth.status).toBe(429);
    expect(fifth.body.code).toBe('LOCKED_OUT');
    expect(Number(fifth.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await punch('clock-in', '3456')).status).toBe(429);
    const login = await h.api('POST', '/api/v1/auth/login', { body: { pin: '3456' } });
    expect(login.status).toBe(429);
    expect(
      await h.deps.knex('shifts').where('staff_id', h.shop.staff['Cashier']).whereNull('clock_out_at'),
    ).toHaveLength(0);
  });
});

describe('GET /api/v1/staff/:id/shifts', () => {
  const manager = () => h.login('2345');
  let kitchenId: string;
  let firstShift: string;

  beforeAll(async () => {
    await h.deps.knex('login_failures').delete();
    kitchenId = h.shop.staff['Kitchen']!;
    // Two known shifts for Kitchen, made through the API and then pinned to fixed times.
    await h.deps.knex('shifts').where('staff_id', kitchenId).delete();
    for (const action of ['clock-in', 'break-start', 'break-end', 'clock-out'] as const)
      expect((await punch(action, '4567')).status).toBe(200);
    const shift = await h.deps.knex('shifts').where('staff_id', kitchenId).first();
    firstShift = shift.id;
    // 09:00-17:30 with a 12:00-12:45 break: 465 worked minutes at 15.55/h = 12051.25 → 12051.
    await h.deps
      .knex('shifts')
      .where('id', shift.id)
      .update({ clock_in_at: '2024-03-04T09:00:00Z', clock_out_at: '2024-03-04T17:30:00Z', hourly_rate: 1555 });
    await h.deps
      .knex('breaks')
      .where('shift_id', shift.id)
      .update({ start_at: '2024-03-04T12:00:00Z', end_at: '2024-03-04T12:45:00Z' });
    // 08:00-08:20:30, no break: 20 whole minutes → round(1555 * 20 / 60) = 518.
    await h.deps.knex('shifts').insert({
      location_id: h.shop.locationId,
      staff_id: kitchenId,
      clock_in_at: '2024-03-05T08:00:00Z',
      clock_out_at: '2024-03-05T08:20:30Z',
      hourly_rate: 1555,
    });
  });

  it('computes worked minutes, break minutes and wage per shift and in total', async () => {
    const res = await h.api('GET', `/api/v1/staff/${kitchenId}/shifts?start=2024-03-04&end=2024-03-05`, {
      token: await manager(),
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      shifts: [
        {
          id: firstShift,
          staffId: kitchenId,
          clockInAt: '2024-03-04T09:00:00.000Z',
          clockOutAt: '2024-03-04T17:30:00.000Z',
          breaks: [{ startAt: '2024-03-04T12:00:00.000Z', endAt: '2024-03-04T12:45:00.000Z' }],
          workedMinutes: 465,
          breakMinutes: 45,
          wage: 12051,
        },
        {
          id: expect.any(String),
          staffId: kitchenId,
          clockInAt: '2024-03-05T08:00:00.000Z',
          clockOutAt: '2024-03-05T08:20:30.000Z',
          breaks: [],
          workedMinutes: 20,
          breakMinutes: 0,
          wage: 518,
        },
      ],
      totals: { workedMinutes: 485, breakMinutes: 45, wage: 12569 },
    });
  });

  it('selects shifts that overlap the range', async () => {
    const token = await manager();
    const ids = async (qs: string) => {
      const res = await h.api('GET', `/api/v1/staff/${kitchenId}/shifts?${qs}`, { token });
      expect(res.status).toBe(200);
      return res.body.shifts.map((s: { clockInAt: string }) => s.clockInAt);
    };
    expect(await ids('start=2024-03-05&end=2024-03-05')).toEqual(['2024-03-05T08:00:00.000Z']);
    expect(await ids('start=2024-03-04T17:00:00Z&end=2024-03-04T18:00:00Z')).toEqual(['2024-03-04T09:00:00.000Z']);
    expect(await ids('start=2024-03-04T17:30:00Z&end=2024-03-05T08:00:00Z')).toEqual([]);
    expect(await ids('start=2024-03-01&end=2024-03-03')).toEqual([]);
    // Default: the last 7 days.
    const recent = await h.api('GET', `/api/v1/staff/${kitchenId}/shifts`, { token });
    expect(recent.body).toEqual({ shifts: [], totals: { workedMinutes: 0, breakMinutes: 0, wage: 0 } });
  });

  it('counts an open shift and a running break up to now', async () => {
    const managerId = h.shop.staff['Manager']!;
    await h.deps.knex('shifts').where('staff_id', managerId).delete();
    const inRes = await punch('clock-in', '2345');
    expect((await punch('break-start', '2345')).status).toBe(200);
    await h.deps
      .knex('shifts')
      .where('id', inRes.body.shift.id)
      .update({ clock_in_at: h.deps.knex.raw("now() - interval '90 minutes'") });
    await h.deps
      .knex('breaks')
      .where('shift_id', inRes.body.shift.id)
      .update({ start_at: h.deps.knex.raw("now() - interval '30 minutes'") });
    const res = await h.api('GET', `/api/v1/staff/${managerId}/shifts`, { token: await manager() });
    expect(res.status).toBe(200);
    expect(res.body.shifts).toEqual([
      expect.objectContaining({ clockOutAt: null, workedMinutes: 60, breakMinutes: 30, wage: 2200 }),
    ]);
    expect(res.body.totals).toEqual({ workedMinutes: 60, breakMinutes: 30, wage: 2200 });
    expect((await punch('clock-out', '2345')).status).toBe(200);
  });

  it('lets staff read their own shifts only; managers read anyone’s', async () => {
    const cashier = await h.login('3456');
    const own = await h.api('GET', `/api/v1/staff/${h.shop.staff['Cashier']}/shifts?start=2000-01-01`, {
      token: cashier,
    });
    expect(own.status).toBe(200);
    expect(own.body.shifts.length).toBeGreaterThan(0);
    expect(own.body.shifts.every((s: { staffId: string }) => s.staffId === h.shop.staff['Cashier'])).toBe(true);
    const others = await h.api('GET', `/api/v1/staff/${kitchenId}/shifts`, { token: cashier });
    expect(others.status).toBe(403);
    expect(others.body.code).toBe('FORBIDDEN');
    expect((await h.api('GET', `/api/v1/staff/${randomUUID()}/shifts`, { token: cashier })).status).toBe(403);
    const kitchen = await h.login('4567');
    expect((await h.api('GET', `/api/v1/staff/${kitchenId}/shifts`, { token: kitchen })).status).toBe(200);
    expect(
      (await h.api('GET', `/api/v1/staff/${h.shop.staff['Cashier']}/shifts`, { token: await manager() })).status,
    ).toBe(200);
    expect((await h.api('GET', `/api/v1/staff/${kitchenId}/shifts`)).status).toBe(401);
  });

  it('rejects bad ranges and ids', async () => {
    const token = await manager();
    const get = (path: string) => h.api('GET', path, { token });
    for (const [qs, path] of [
      ['start=yesterday', 'query.start'],
      ['end=2024-13-01', 'query.end'],
      ['start=2024-03-04T25:00:00Z', 'query.start'],
      ['start=2024-02-30', 'query.start'],
      ['end=2024-03-04T10:00:00+25:00', 'query.end'],
      ['start=2024-03-05&end=2024-03-04', 'query.end'],
      ['start=2024-03-05T10:00:00Z&end=2024-03-05T09:59:59Z', 'query.end'],
    ]) {
      const res = await get(`/api/v1/staff/${kitchenId}/shifts?${qs}`);
      expect([qs, res.status, res.body.code]).toEqual([qs, 422, 'VALIDATION_ERROR']);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    const badId = await get('/api/v1/staff/nope/shifts');
    expect(badId.status).toBe(422);
    expect(badId.body.errors[0].path).toBe('params.id');
    expect((await get(`/api/v1/staff/${randomUUID()}/shifts`)).status).toBe(404);
  });
});
