import { startHarness, Harness } from './support/harness';
import { ConfigError, loadConfig } from '../platform/config';

/** A flood of requests, with or without a token, is answered 429 RATE_LIMITED before it costs anything. */
const LIMIT = 5;
let h: Harness;
let ip = 0;
const newIp = () => `10.2.0.${++ip}`;
beforeAll(async () => {
  process.env.TRUST_PROXY = 'true'; // each test claims its own client IP
  h = await startHarness({
    env: { TILLFLOW_RATE_LIMIT_IP_PER_MINUTE: String(LIMIT), TILLFLOW_RATE_LIMIT_TOKEN_PER_MINUTE: String(LIMIT) },
  });
});
afterAll(async () => {
  delete process.env.TRUST_PROXY;
  await h?.close();
});

async function loginFrom(address: string, pin: string): Promise<string> {
  const res = await h.api('POST', '/api/v1/auth/login', { body: { pin }, headers: { 'x-forwarded-for': address } });
  expect(res.status).toBe(200);
  return res.body.token;
}
const get = (path: string, address: string, token?: string) =>
  h.api('GET', path, { token, headers: { 'x-forwarded-for': address } });

it('answers the request past the per-token limit with 429 RATE_LIMITED and Retry-After', async () => {
  const address = newIp();
  const token = await loginFrom(address, '3456');
  for (let i = 0; i < LIMIT; i++) expect((await get('/api/v1/catalog/items', address, token)).status).toBe(200);
  const over = await get('/api/v1/catalog/items', address, token);
  expect(over.status).toBe(429);
  expect(over.body).toMatchObject({ code: 'RATE_LIMITED', detail: expect.any(String), timestamp: expect.any(String) });
  const retryAfter = Number(over.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
});

it('counts per token: another session from the same address is not limited', async () => {
  const address = newIp();
  const [a, b] = [await loginFrom(address, '3456'), await loginFrom(address, '2345')];
  for (let i = 0; i <= LIMIT; i++) await get('/api/v1/catalog/items', address, a);
  expect((await get('/api/v1/catalog/items', address, a)).status).toBe(429);
  expect((await get('/api/v1/catalog/items', address, b)).status).toBe(200);
});

it('limits requests without a token per client address', async () => {
  const address = newIp();
  for (let i = 0; i < LIMIT; i++) expect((await get('/openapi.json', address)).status).toBe(200);
  const over = await get('/openapi.json', address);
  expect(over.status).toBe(429);
  expect(over.body.code).toBe('RATE_LIMITED');
  expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
  expect((await get('/openapi.json', newIp())).status).toBe(200);
});

it('counts a request with an invalid token against the address', async () => {
  const address = newIp();
  for (let i = 0; i < LIMIT; i++) expect((await get('/api/v1/catalog/items', address, 'not-a-token')).status).toBe(401);
  expect((await get('/api/v1/catalog/items', address, 'not-a-token')).status).toBe(429);
});

describe('configuration', () => {
  const base = { TILLFLOW_TOKEN_SECRET: 'rate-limit-secret-'.padEnd(40, 'x') };

  it('defaults leave room for ten busy terminals on one login', () => {
    expect(loadConfig(base).rateLimit).toEqual({ ipPerMinute: 1200, tokenPerMinute: 600, pinChangesPer10Min: 5 });
  });

  it.each([
    ['TILLFLOW_RATE_LIMIT_TOKEN_PER_MINUTE', '-1'],
    ['TILLFLOW_RATE_LIMIT_IP_PER_MINUTE', 'lots'],
    ['TILLFLOW_RATE_LIMIT_PIN_CHANGES', '0'],
  ])('refuses %s=%s', (name, value) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(ConfigError);
  });
});
