import { startHarness, Harness } from './support/harness';

let h: Harness;
let manager: string;
let cashier: string;

const S = '/api/v1/settings';
const I = '/api/v1/catalog/items';

beforeAll(async () => {
  h = await startHarness();
  [manager, cashier] = await Promise.all([h.login('2345'), h.login('3456')]);
  // Croissant gets an event price; Sparkling water has none and falls back to its price.
  const patched = await h.api('PATCH', `${I}/${h.shop.items.Croissant}`, { token: manager, body: { eventPrice: 400 } });
  expect(patched.status).toBe(200);
});
afterAll(async () => h?.close());

const setPricing = (pricing: unknown, token = manager) => h.api('PUT', S, { token, body: { pricing } });
const addLine = (orderId: string, item: string) =>
  h.api('POST', `/api/v1/orders/${orderId}/lines`, {
    token: cashier,
    body: { itemId: h.shop.items[item], quantity: 1 },
  });
const priced = (lines: any[]) => lines.map((l) => [l.name, l.unitPrice, l.priceKind]);

describe('the pricing setting', () => {
  it('is regular by default, a manager switches it, and anything else is refused', async () => {
    expect((await h.api('GET', S, { token: cashier })).body.pricing).toBe('regular');
    expect((await setPricing('event', cashier)).status).toBe(403);
    const bad = await setPricing('happy-hour');
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e: any) => e.path)).toContain('pricing');
    expect((await setPricing(7)).status).toBe(422);
    const on = await setPricing('event');
    expect(on.status).toBe(200);
    expect(on.body.pricing).toBe('event');
    expect((await h.api('GET', S, { token: cashier })).body.pricing).toBe('event');
    expect((await setPricing('regular')).body.pricing).toBe('regular');
  });
});

describe('event pricing', () => {
  it('changes only the lines added after it is switched on, and back', async () => {
    const created = await h.api('POST', '/api/v1/orders', {
      token: cashier,
      body: { type: 'takeaway', lines: [{ itemId: h.shop.items.Croissant, quantity: 1 }] },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(priced(created.body.lines)).toEqual([['Croissant', 325, 'regular']]);

    expect((await setPricing('event')).status).toBe(200);
    await addLine(id, 'Croissant');
    const during = await addLine(id, 'Sparkling water');
    expect(during.status).toBe(200);
    expect(priced(during.body.lines)).toEqual([
      ['Croissant', 325, 'regular'],
      ['Croissant', 400, 'event'],
      ['Sparkling water', 250, 'regular'],
    ]);

    expect((await setPricing('regular')).status).toBe(200);
    const after = await addLine(id, 'Croissant');
    expect(priced(after.body.lines)).toEqual([
      ['Croissant', 325, 'regular'],
      ['Croissant', 400, 'event'],
      ['Sparkling water', 250, 'regular'],
      ['Croissant', 325, 'regular'],
    ]);
    expect(after.body.totals.subtotal).toBe(325 + 400 + 250 + 325);
  });

  it('prices the lines an order is created with at the event price', async () => {
    expect((await setPricing('event')).status).toBe(200);
    try {
      const created = await h.api('POST', '/api/v1/orders', {
        token: cashier,
        body: { type: 'takeaway', lines: [{ itemId: h.shop.items.Croissant, quantity: 2 }] },
      });
      expect(created.status).toBe(201);
      expect(priced(created.body.lines)).toEqual([['Croissant', 400, 'event']]);
      expect(created.body.totals.subtotal).toBe(800);
    } finally {
      await setPricing('regular');
    }
  });
});
