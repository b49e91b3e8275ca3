import { createHash } from 'node:crypto';
import { startHarness, Harness } from './support/harness';

let h: Harness;
let admin: string;
beforeAll(async () => {
  h = await startHarness();
  admin = await h.login('1234');
});
afterAll(async () => h?.close());

const directives = (csp: string | null) =>
  Object.fromEntries(
    (csp ?? '')
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .map(([name, ...values]) => [name, values]),
  );

describe('security headers', () => {
  it('sends the standard security headers on JSON responses', async () => {
    const res = await h.api('GET', '/api/v1/settings', { token: admin });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect(directives(res.headers.get('content-security-policy'))).toMatchObject({
      'default-src': ["'none'"],
      'frame-ancestors': ["'none'"],
    });
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('sends them on error responses too', async () => {
    const res = await h.api('GET', '/api/v1/nope');
    expect(res.status).toBe(404);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(directives(res.headers.get('content-security-policy'))['default-src']).toEqual(["'none'"]);
  });

  it('lets the docs page run its own scripts and nothing else', async () => {
    const res = await h.api('GET', '/docs');
    expect(res.status).toBe(200);
    const csp = directives(res.headers.get('content-security-policy'));
    const inline = [...(res.body as string).matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(inline).toHaveLength(1);
    const hash = `'sha256-${createHash('sha256').update(inline[0]!).digest('base64')}'`;
    expect(csp['script-src']).toEqual(["'self'", hash]);
    expect(csp['connect-src']).toEqual(["'self'"]); // fetches /openapi.json
    expect(csp['default-src']).toEqual(["'none'"]);
    for (const asset of ['/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css']) {
      expect((await h.api('GET', asset)).status).toBe(200);
    }
  });
});
