import { startHarness, Harness } from './support/harness';

/**
 * Changing who someone is (deactivating them, their PIN, their role) ends every session they had:
 * a token taken before the change must never work again, also after they are reactivated.
 */
let h: Harness;
let manager: string;
beforeAll(async () => {
  h = await startHarness();
  manager = await h.login('2345');
});
afterAll(async () => h?.close());

let n = 0;
/** A fresh cashier with a token of their own. */
async function cashierWithToken(): Promise<{ id: string; token: string }> {
  const pin = String(7000 + n++);
  const created = await h.api('POST', '/api/v1/staff', {
    token: manager,
    body: { name: `Temp ${pin}`, role: 'cashier', pin },
  });
  expect(created.status).toBe(201);
  return { id: created.body.id, token: await h.login(pin) };
}
const patch = (id: string, body: unknown) => h.api('PATCH', `/api/v1/staff/${id}`, { token: manager, body });
/** Authenticated at all (a kitchen token may get 403 on the catalog, but not 401). */
const tokenWorks = async (token: string) => (await h.api('GET', '/api/v1/catalog/items', { token })).status !== 401;

it('a token from before a deactivation stays dead after the member is reactivated', async () => {
  const c = await cashierWithToken();
  expect(await tokenWorks(c.token)).toBe(true);
  expect((await patch(c.id, { active: false })).status).toBe(200);
  expect((await patch(c.id, { active: true })).status).toBe(200);
  const res = await h.api('GET', '/api/v1/catalog/items', { token: c.token });
  expect(res.status).toBe(401);
  expect(res.body.code).toBe('UNAUTHENTICATED');
});

it("deactivation marks the member's sessions revoked", async () => {
  const c = await cashierWithToken();
  expect((await patch(c.id, { active: false })).status).toBe(200);
  const live = await h.deps.knex('sessions').where('staff_id', c.id).whereNull('revoked_at');
  expect(live).toEqual([]);
});

it("a PIN change ends the member's sessions", async () => {
  const c = await cashierWithToken();
  expect((await patch(c.id, { pin: String(8000 + n++) })).status).toBe(200);
  expect(await tokenWorks(c.token)).toBe(false);
});

it("a role change ends the member's sessions", async () => {
  const c = await cashierWithToken();
  expect((await patch(c.id, { role: 'kitchen' })).status).toBe(200);
  expect(await tokenWorks(c.token)).toBe(false);
});

it('a change of name or hourly rate keeps the member logged in', async () => {
  const c = await cashierWithToken();
  expect((await patch(c.id, { name: 'Renamed', hourlyRate: 1700 })).status).toBe(200);
  expect(await tokenWorks(c.token)).toBe(true);
});

it('changing your own PIN keeps the session you did it from and ends your others', async () => {
  const admin = await h.login('1234');
  const adminId = h.shop.staff['Admin']!;
  const elsewhere = await h.login('1234');
  const res = await h.api('PATCH', `/api/v1/staff/${adminId}`, { token: admin, body: { pin: '12345678' } });
  expect(res.status).toBe(200);
  expect(await tokenWorks(admin)).toBe(true);
  expect(await tokenWorks(elsewhere)).toBe(false);
});
