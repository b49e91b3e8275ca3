/**
 * Asserts a response leaks no PIN: no field named like a PIN or its hash, no scrypt hash, no
 * demo PIN as a value. (A regex over the raw JSON would also hit random base64 in tokens.)
 */
export function expectNoPinLeak(body: unknown, pins: string[] = ['1234', '2345', '3456', '4567']): void {
  const walk = (v: unknown, where: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
    else if (v && typeof v === 'object') {
      for (const [key, x] of Object.entries(v)) {
        expect(`${where}.${key}`).not.toMatch(/pin|scrypt/i);
        walk(x, `${where}.${key}`);
      }
    } else if (typeof v === 'string') {
      expect(v).not.toMatch(/^scrypt\$/);
      expect(pins).not.toContain(v);
    }
  };
  walk(body, 'body');
}
