import { startHarness, Harness } from './support/harness';
import { hashPin, pinLookup } from '../db/pins';
import { LOCKOUT } from '../api/pin-guard';

/**
 * Rotating client IPs defeats a per-IP lockout. Past an hourly ceiling of wrong PINs per location,
 * PIN checks there are slowed down (never refused, so staff still get in) and an alert is raised.
 */
const CEILING = 3;
let h: Harness;
let ip = 0;
beforeAll(async () => {
  process.env.TRUST_PROXY = 'true'; // read by the app: each request below claims its own client IP
  h = await startHarness({
    env: { TILLFLOW_PIN_FAILURES_PER_LOCATION_HOUR: String(CEILING), TILLFLOW_PIN_SLOWDOWN_MS: '20' },
  });
});
afterAll(async () => {
  delete process.env.TRUST_PROXY;
  await h?.close();
});
beforeEach(async () => {
  await h.deps.knex('login_failures').delete();
});

const fromNewIp = (body: unknown) =>
  h.api('POST', '/api/v1/auth/login', {
    body,
    headers: { 'x-forwarded-for': `10.1.${Math.floor(++ip / 250)}.${ip % 250}` },
  });
async function slowedCount(): Promise<number> {
  const text = (await h.api('GET', '/metrics')).body as string;
  return Number(/^tillflow_pin_attempts_slowed_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

it('wrong PINs from ever new IPs past the ceiling are slowed and counted as an alert, not refused', async () => {
  const before = await slowedCount();
  const answers = [];
  for (let i = 0; i < CEILING + 3; i++) answers.push(await fromNewIp({ pin: '9999' }));
  expect(answers.map((a) => a.status)).toEqual(Array(CEILING + 3).fill(401));
  expect(await slowedCount()).toBe(before + 3);
});

it('past the ceiling the right PIN still logs in', async () => {
  for (let i = 0; i < CEILING + 1; i++) expect((await fromNewIp({ pin: '9999' })).status).toBe(401);
  const right = await fromNewIp({ pin: '3456' });
  expect(right.status).toBe(200);
  expect(right.body.staff.role).toBe('cashier');
});

it('counts failures against the location named in the body', async () => {
  const before = await slowedCount();
  const other = { pin: '9999', locationId: h.shop.locationId };
  for (let i = 0; i < CEILING; i++) expect((await fromNewIp(other)).status).toBe(401);
  expect(await slowedCount()).toBe(before);
  expect((await fromNewIp(other)).status).toBe(401);
  expect(await slowedCount()).toBe(before + 1);
});

describe('a PIN valid at several locations', () => {
  beforeAll(async () => {
    const [loc] = await h.deps.knex('locations').insert({ name: 'Second shop' }).returning('id');
    const secret = h.deps.config.tokenSecret;
    await h.deps.knex('staff').insert({
      location_id: loc.id,
      name: 'Twin',
      role: 'cashier',
      pin_lookup: pinLookup(secret, '3456'),
      pin_hash: await hashPin('3456'),
    });
  });

  it('asks for locationId with 422 once the PIN verified', async () => {
    const res = await h.api('POST', '/api/v1/auth/login', { body: { pin: '3456' } });
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['locationId']);
    const withLocation = await h.api('POST', '/api/v1/auth/login', {
      body: { pin: '3456', locationId: h.shop.locationId },
    });
    expect(withLocation.status).toBe(200);
  });

  it('counts the ambiguous answer toward the lockout like any failed login', async () => {
    for (let i = 0; i < LOCKOUT.failures - 1; i++)
      expect((await h.api('POST', '/api/v1/auth/login', { body: { pin: '3456' } })).status).toBe(422);
    const locked = await h.api('POST', '/api/v1/auth/login', { body: { pin: '3456' } });
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe('LOCKED_OUT');
  });
});
