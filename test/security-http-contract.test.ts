import { startHarness, Harness } from './support/harness';

let h: Harness;
let admin: string;
let spec: any;
beforeAll(async () => {
  h = await startHarness();
  admin = await h.login('1234');
  spec = (await h.api('GET', '/openapi.json')).body;
});
afterAll(async () => h?.close());

const operations = () =>
  Object.entries(spec.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ path, method, op })),
  );
const bodySchema = (path: string, method: string) =>
  spec.paths[path][method].requestBody.content['application/json'].schema;

describe('HTTP contract: methods, sizes and the spec', () => {
  it('answers a method the path does not declare with 405, Allow and the contract error body', async () => {
    const res = await h.api('PUT', '/api/v1/catalog/categories', { token: admin, body: { name: 'x' } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(res.body).toMatchObject({ code: 'BAD_REQUEST', detail: expect.any(String), timestamp: expect.any(String) });
  });

  it('still answers an unknown path with 404', async () => {
    const res = await h.api('DELETE', '/api/v1/no-such-thing', { token: admin });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('NOT_FOUND');
  });

  it('answers a body over 1 MB with 413 in the contract error format', async () => {
    const res = await h.api('POST', '/api/v1/catalog/categories', {
      token: admin,
      raw: JSON.stringify({ name: 'x'.repeat(1_100_000) }),
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ code: 'BAD_REQUEST', detail: expect.any(String) });
  });

  it('states in the spec that PATCH bodies must change something and take no unknown fields', () => {
    const patches = operations().filter((o) => o.method === 'patch');
    expect(patches.length).toBeGreaterThan(5);
    for (const { path } of patches) {
      expect({ path, ...bodySchema(path, 'patch') }).toMatchObject({
        path,
        minProperties: 1,
        additionalProperties: false,
      });
    }
  });

  it('accepts nothing but the declared fields, as the spec says', async () => {
    expect(bodySchema('/api/v1/auth/login', 'post').additionalProperties).toBe(false);
    const res = await h.api('POST', '/api/v1/catalog/categories', { token: admin, body: { name: 'Soups', extra: 1 } });
    expect(res.status).toBe(422);
  });

  it('declares the order list date as a calendar date and refuses an impossible one', async () => {
    const date = spec.paths['/api/v1/orders'].get.parameters.find((p: any) => p.name === 'date');
    expect(date.schema.format).toBe('date');
    const res = await h.api('GET', '/api/v1/orders?date=2024-02-30', { token: admin });
    expect(res.status).toBe(422);
  });

  it('states that a name must be more than blanks, and the server agrees', async () => {
    const pattern = new RegExp(bodySchema('/api/v1/catalog/categories', 'post').properties.name.pattern);
    expect(pattern.test('   ')).toBe(false);
    expect(pattern.test(' Soups ')).toBe(true);
    const blank = await h.api('POST', '/api/v1/catalog/categories', { token: admin, body: { name: '   ' } });
    expect(blank.status).toBe(422);
    const trimmed = await h.api('POST', '/api/v1/catalog/categories', { token: admin, body: { name: ' Soups ' } });
    expect(trimmed.status).toBe(201);
    expect(trimmed.body.name).toBe('Soups');
  });

  it('gives every operation a response schema for each success status it answers with a body', () => {
    const missing = operations().flatMap(({ path, method, op }) =>
      Object.entries(op.responses as Record<string, any>)
        .filter(([status]) => /^2\d\d$/.test(status) && status !== '204')
        .filter(([, r]) => !r.content || Object.values(r.content as Record<string, any>).some((c) => !c.schema))
        .map(([status]) => `${method.toUpperCase()} ${path} ${status}`),
    );
    expect(missing).toEqual([]);
  });

  it('resolves every schema reference of the spec to a component', () => {
    const refs = [...JSON.stringify(spec).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!);
    expect(refs.filter((name) => !spec.components.schemas[name])).toEqual([]);
  });
});
