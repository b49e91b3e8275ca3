import { startHarness, Harness } from './support/harness';

let h: Harness;
let manager: string;
beforeAll(async () => {
  h = await startHarness();
  manager = await h.login('2345');
});
afterAll(async () => h?.close());

const P = '/api/v1/printers';
const printer = (address: string) => ({ name: 'Kitchen', role: 'kitchen', address });
const count = async () => Number((await h.deps.knex('printers').count({ n: '*' }).first())!.n);

describe('printer addresses cannot reach link-local or cloud metadata services', () => {
  const refused = [
    'tcp://169.254.169.254:80', // AWS/GCP/Azure metadata
    'tcp://169.254.1.1:9100', // any link-local IPv4
    'tcp://100.100.100.200:80', // Alibaba Cloud metadata
    'tcp://metadata.google.internal:80',
    'tcp://METADATA.google.INTERNAL:80',
    'tcp://metadata:80',
    'tcp://instance-data.ec2.internal:80',
    'tcp://2852039166:80', // 169.254.169.254 as one decimal number
    'tcp://0xa9.0xfe.0xa9.0xfe:80', // the same in hex
    'tcp://0251.0376.0251.0376:80', // and in octal
    'tcp://[fe80::1]:9100', // IPv6 link-local
    'tcp://[fd00:ec2::254]:80', // AWS IPv6 metadata
  ];

  it('refuses them on create with 422 and writes nothing', async () => {
    const before = await count();
    for (const address of refused) {
      const res = await h.api('POST', P, { token: manager, body: printer(address) });
      expect({ address, status: res.status, path: res.body.errors?.[0]?.path }).toEqual({
        address,
        status: 422,
        path: 'address',
      });
    }
    expect(await count()).toBe(before);
  });

  it('refuses them on change and keeps the old address', async () => {
    const created = await h.api('POST', P, { token: manager, body: printer('tcp://192.168.1.50:9100') });
    expect(created.status).toBe(201);
    for (const address of refused) {
      const res = await h.api('PATCH', `${P}/${created.body.id}`, { token: manager, body: { address } });
      expect({ address, status: res.status }).toEqual({ address, status: 422 });
    }
    expect((await h.api('GET', `${P}/${created.body.id}`, { token: manager })).body.address).toBe(
      'tcp://192.168.1.50:9100',
    );
  });

  it('allows loopback: a USB printer behind a local raw-TCP server', async () => {
    for (const address of ['tcp://127.0.0.1:9100', 'tcp://localhost:9100']) {
      const res = await h.api('POST', P, { token: manager, body: printer(address) });
      expect({ address, status: res.status }).toEqual({ address, status: 201 });
    }
  });

  it('states the same rule in /openapi.json', async () => {
    const spec = (await h.api('GET', '/openapi.json')).body;
    const pattern = new RegExp(
      spec.paths[P].post.requestBody.content['application/json'].schema.properties.address.pattern,
    );
    expect(refused.filter((a) => pattern.test(a))).toEqual([]);
    expect(pattern.test('tcp://127.0.0.1:9100')).toBe(true);
  });
});
