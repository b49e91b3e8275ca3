import { randomUUID } from 'node:crypto';
import type { AnyObjectSchema } from 'yup';
import { startHarness, Harness } from './support/harness';
import { allRoutes } from '../api/routes';
import type { AnyRoute } from '../api/route';

let h: Harness;
let admin: string;
beforeAll(async () => {
  h = await startHarness();
  admin = await h.login('1234');
});
afterAll(async () => h?.close());

/** Values of the wrong JSON type for any field: none of them may reach a handler, or a 5xx. */
const WRONG_TYPES: unknown[] = [{}, { nested: {} }, [], [{}], 12345, -1.5, true, null];

const concretePath = (r: AnyRoute) => r.path.replace(/:[A-Za-z]+/g, () => randomUUID());
const bodyFields = (r: AnyRoute): string[] => Object.keys((r.body as AnyObjectSchema).describe().fields);

describe('malformed input never gets a 5xx', () => {
  it('answers every body field of every route, given a value of the wrong type, with a 4xx', async () => {
    const failures: string[] = [];
    for (const r of allRoutes().filter((x) => x.body)) {
      for (const field of bodyFields(r)) {
        for (const value of WRONG_TYPES) {
          const res = await h.api(r.method.toUpperCase(), concretePath(r), { token: admin, body: { [field]: value } });
          if (res.status >= 500)
            failures.push(`${r.method.toUpperCase()} ${r.path} {"${field}": ${JSON.stringify(value)}} → ${res.status}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('answers every query parameter of every route, given odd dates, long cursors and arrays, with a 4xx or 2xx', async () => {
    const odd = ['0000-00-00', '9999-99-99', '0'.repeat(200), '%00', 'null', '-1', '1e309'];
    const failures: string[] = [];
    for (const r of allRoutes().filter((x) => x.query && x.method === 'get')) {
      const names = Object.keys((r.query as AnyObjectSchema).describe().fields);
      for (const value of odd) {
        const qs = new URLSearchParams(names.map((n): [string, string] => [n, value])).toString();
        const res = await h.api('GET', `${concretePath(r)}?${qs}`, { token: admin });
        if (res.status >= 500) failures.push(`GET ${r.path}?${qs} → ${res.status}`);
        const twice = names.map((n) => `${n}=a&${n}=b`).join('&');
        const arr = await h.api('GET', `${concretePath(r)}?${twice}`, { token: admin });
        if (arr.status >= 500) failures.push(`GET ${r.path}?${twice} → ${arr.status}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('answers __proto__ in a query string with 422 (yup crashed on it: 500)', async () => {
    const res = await h.api('GET', '/api/v1/inventory?__proto__=a&__proto__=b&lowStock=true', { token: admin });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'query.__proto__' })]);
  });

  it('refuses a __proto__ field in a JSON body as malformed (400) and writes nothing', async () => {
    const before = await h.deps.knex('categories').count('* as n').first();
    const res = await h.api('POST', '/api/v1/catalog/categories', {
      token: admin,
      raw: '{"name":"proto","__proto__":{"admin":true}}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('BAD_REQUEST');
    expect(await h.deps.knex('categories').count('* as n').first()).toEqual(before);
  });

  it('refuses an impossible date and a cursor of zeros on the order list with 422', async () => {
    const res = await h.api('GET', `/api/v1/orders?date=0000-00-00&cursor=${'0'.repeat(200)}`, { token: admin });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('VALIDATION_ERROR');
  });

  it('refuses a well-formed cursor that this API cannot have issued with 422', async () => {
    const forged = Buffer.from(JSON.stringify(['1', 'not-a-uuid'])).toString('base64url');
    const res = await h.api('GET', `/api/v1/orders?cursor=${forged}`, { token: admin });
    expect(res.status).toBe(422);
    expect(res.body.errors[0].path).toBe('query.cursor');
  });
});
