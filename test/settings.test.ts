import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { loadSettings } from '../api/settings-read';

let h: Harness;
let manager: string;
let cashier: string;
let kitchen: string;

const S = '/api/v1/settings';
const row = () => h.deps.knex('locations').where('id', h.shop.locationId).first();

beforeAll(async () => {
  h = await startHarness();
  [manager, cashier, kitchen] = await Promise.all([h.login('2345'), h.login('3456'), h.login('4567')]);
});
afterAll(async () => h?.close());

describe('settings', () => {
  it("returns the location's settings to a cashier", async () => {
    const res = await h.api('GET', S, { token: cashier });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      locationId: h.shop.locationId,
      name: 'Demo Café',
      currency: 'USD',
      timezone: 'America/New_York',
      taxRate: 800,
      taxInclusive: false,
      serviceChargeRate: 0,
      cardFee: { enabled: false, rate: 0, min: 0 },
      discountsEnabled: true,
      autoPrint: { receipt: false, kitchen: true, orderNumber: false },
      loyalty: { enabled: false, pointsPer100: 0, pointValue: 0 },
      approvalDiscountPercent: null,
      pricing: 'regular',
      pricingSchedule: [],
    });
  });

  it('needs a token, keeps the kitchen out and lets only managers change settings', async () => {
    expect((await h.api('GET', S)).status).toBe(401);
    expect((await h.api('GET', S, { token: kitchen })).status).toBe(403);
    const before = await row();
    const res = await h.api('PUT', S, { token: cashier, body: { taxRate: 0 } });
    expect(res.status).toBe(403);
    expect(await row()).toEqual(before);
  });

  it('applies a partial update, nested objects included, and leaves the rest alone', async () => {
    const res = await h.api('PUT', S, {
      token: manager,
      body: { taxRate: 1600, cardFee: { enabled: true, rate: 250 }, autoPrint: { receipt: true } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      currency: 'USD',
      taxRate: 1600,
      cardFee: { enabled: true, rate: 250, min: 0 },
      autoPrint: { receipt: true, kitchen: true, orderNumber: false },
    });
    expect((await h.api('GET', S, { token: cashier })).body).toEqual(res.body);
    expect(await row()).toMatchObject({
      tax_rate: 1600,
      card_fee_enabled: true,
      card_fee_rate: 250,
      auto_print_receipt: true,
    });
  });

  it('accepts the whole object and canonicalises the time zone', async () => {
    const all = {
      name: 'Nairobi Café',
      currency: 'KES',
      timezone: 'africa/nairobi',
      taxRate: 1600,
      taxInclusive: true,
      serviceChargeRate: 500,
      cardFee: { enabled: true, rate: 300, min: 2000 },
      discountsEnabled: false,
      autoPrint: { receipt: true, kitchen: false, orderNumber: true },
      loyalty: { enabled: true, pointsPer100: 5, pointValue: 10 },
      approvalDiscountPercent: 20,
      pricing: 'regular',
      pricingSchedule: [{ days: ['fri', 'sat'], from: '18:00', to: '23:00', pricing: 'event' }],
    };
    const res = await h.api('PUT', S, { token: manager, body: all });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...all, timezone: 'Africa/Nairobi', locationId: h.shop.locationId });
    expect(await loadSettings(h.deps.knex, h.shop.locationId)).toEqual(res.body);
  });

  it('rejects invalid settings with 422 and changes nothing', async () => {
    const before = await row();
    const put = (body: unknown) => h.api('PUT', S, { token: manager, body });
    const cases: Array<[unknown, string | undefined]> = [
      [{}, undefined],
      [{ currency: 'usd' }, 'currency'],
      [{ currency: 'USDX' }, 'currency'],
      [{ currency: 840 }, 'currency'],
      [{ timezone: 'Mars/Olympus' }, 'timezone'],
      [{ timezone: '+05:00' }, 'timezone'],
      [{ timezone: '' }, 'timezone'],
      [{ taxRate: 10001 }, 'taxRate'],
      [{ taxRate: -1 }, 'taxRate'],
      [{ taxRate: '800' }, 'taxRate'],
      [{ taxRate: 7.5 }, 'taxRate'],
      [{ serviceChargeRate: 20000 }, 'serviceChargeRate'],
      [{ taxInclusive: 'true' }, 'taxInclusive'],
      [{ cardFee: { min: -1 } }, 'cardFee.min'],
      [{ cardFee: { min: 3_000_000_000 } }, 'cardFee.min'],
      [{ cardFee: { rate: 10001 } }, 'cardFee.rate'],
      [{ cardFee: { fixed: 10 } }, 'cardFee'],
      [{ cardFee: null }, 'cardFee'],
      [{ cardFee: {} }, undefined],
      [{ autoPrint: { bar: true } }, 'autoPrint'],
      [{ tipsEnabled: true }, undefined],
      [{ name: '' }, 'name'],
      [{ taxRate: 900, currency: 'eur' }, 'currency'], // one bad field rejects the whole request
    ];
    for (const [body, path] of cases) {
      const res = await put(body);
      expect({ body, status: res.status, code: res.body.code }).toEqual({
        body,
        status: 422,
        code: 'VALIDATION_ERROR',
      });
      if (path) expect(res.body.errors.map((e: any) => e.path)).toContain(path);
    }
    const malformed = await h.api('PUT', S, { token: manager, raw: '{"taxRate": ' });
    expect(malformed.status).toBe(400);
    expect(await row()).toEqual(before);
  });

  it('loadSettings is undefined for an unknown location', async () => {
    expect(await loadSettings(h.deps.knex, randomUUID())).toBeUndefined();
    expect(await loadSettings(h.deps.knex, 'nope')).toBeUndefined();
  });
});
