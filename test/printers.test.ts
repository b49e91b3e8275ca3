import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';

let h: Harness;
let manager: string;
let cashier: string;
let otherPrinterId: string;

const P = '/api/v1/printers';
const rows = async () => Number((await h.deps.knex('printers').count({ n: '*' }).first())!.n);

beforeAll(async () => {
  h = await startHarness();
  [manager, cashier] = await Promise.all([h.login('2345'), h.login('3456')]);
  const [loc] = await h.deps.knex('locations').insert({ name: 'Other shop' }).returning('id');
  const [p] = await h.deps
    .knex('printers')
    .insert({ location_id: loc.id, name: 'Their kitchen', role: 'kitchen', address: 'tcp://10.0.0.9:9100' })
    .returning('id');
  otherPrinterId = p.id;
});
afterAll(async () => h?.close());

function expect422(res: { status: number; body: any }, path?: string) {
  expect(res.status).toBe(422);
  expect(res.body.code).toBe('VALIDATION_ERROR');
  if (path) expect(res.body.errors.map((e: any) => e.path)).toContain(path);
}

describe('printers', () => {
  it('adds, lists, reads, changes and removes printers', async () => {
    const created = await h.api('POST', P, {
      token: manager,
      body: { name: 'Kitchen', role: 'kitchen', address: 'tcp://192.168.1.50:9100' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.any(String),
      name: 'Kitchen',
      role: 'kitchen',
      address: 'tcp://192.168.1.50:9100',
      enabled: true,
    });
    const receipt = await h.api('POST', P, {
      token: manager,
      body: { name: 'Till', role: 'receipt', address: 'tcp://printer.local:9100', enabled: false },
    });
    expect(receipt.status).toBe(201);

    const list = await h.api('GET', P, { token: manager });
    expect(list.body.map((p: any) => p.name)).toEqual(['Till', 'Kitchen']); // receipt printers first, then by name
    expect((await h.api('GET', `${P}/${created.body.id}`, { token: manager })).body).toEqual(created.body);

    const patched = await h.api('PATCH', `${P}/${created.body.id}`, {
      token: manager,
      body: { enabled: false, address: 'tcp://192.168.1.51:9101' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'Kitchen', enabled: false, address: 'tcp://192.168.1.51:9101' });

    expect((await h.api('DELETE', `${P}/${receipt.body.id}`, { token: manager })).status).toBe(204);
    expect((await h.api('GET', `${P}/${receipt.body.id}`, { token: manager })).status).toBe(404);
  });

  it('is for managers only', async () => {
    const before = await rows();
    expect((await h.api('GET', P)).status).toBe(401);
    expect((await h.api('GET', P, { token: cashier })).status).toBe(403);
    expect(
      (await h.api('POST', P, { token: cashier, body: { name: 'X', role: 'kitchen', address: 'tcp://a:9100' } }))
        .status,
    ).toBe(403);
    expect(await rows()).toBe(before);
  });

  it('rejects invalid printers with 422 and writes nothing', async () => {
    const ok = { name: 'Bar', role: 'kitchen', address: 'tcp://10.1.1.1:9100' };
    const id = (await h.api('POST', P, { token: manager, body: ok })).body.id;
    const before = await rows();
    const post = (body: unknown) => h.api('POST', P, { token: manager, body });
    expect422(await post({ ...ok, address: 'http://10.1.1.1:9100' }), 'address');
    expect422(await post({ ...ok, address: 'tcp://10.1.1.1' }), 'address');
    expect422(await post({ ...ok, address: 'tcp://10.1.1.1:70000' }), 'address');
    expect422(await post({ ...ok, address: 'tcp://:9100' }), 'address');
    expect422(await post({ ...ok, role: 'bar' }), 'role');
    expect422(await post({ ...ok, enabled: 'yes' }), 'enabled');
    expect422(await post({ ...ok, port: 9100 }));
    expect422(await post({ name: 'No address', role: 'receipt' }), 'address');
    expect422(await h.api('PATCH', `${P}/${id}`, { token: manager, body: {} }));
    expect422(await h.api('PATCH', `${P}/${id}`, { token: manager, body: { address: 'lpt1' } }), 'address');
    expect422(await h.api('GET', `${P}/not-a-uuid`, { token: manager }), 'params.id');
    expect(await rows()).toBe(before);
    expect((await h.api('GET', `${P}/${id}`, { token: manager })).body.address).toBe('tcp://10.1.1.1:9100');
  });

  it("answers 404 for unknown ids and another location's printer", async () => {
    for (const id of [randomUUID(), otherPrinterId]) {
      expect((await h.api('GET', `${P}/${id}`, { token: manager })).status).toBe(404);
      expect((await h.api('PATCH', `${P}/${id}`, { token: manager, body: { enabled: false } })).status).toBe(404);
      expect((await h.api('DELETE', `${P}/${id}`, { token: manager })).status).toBe(404);
    }
    expect((await h.api('GET', P, { token: manager })).body.map((p: any) => p.id)).not.toContain(otherPrinterId);
    expect(await h.deps.knex('printers').where('id', otherPrinterId).first()).toMatchObject({ enabled: true });
  });
});
