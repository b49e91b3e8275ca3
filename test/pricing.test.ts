import fc from 'fast-check';
import { MAX_MONEY, mulDivRound } from '../core/money';
import { CartRejection, applyAddLine, checkAddLine, price, type OrderState } from '../core/order';
import {
  cardFeeFor,
  priceOrder,
  type DiscountInput,
  type PaymentInput,
  type PricedLineInput,
  type PriceOrderInput,
  type PricingSettings,
} from '../core/pricing';

// ---------- arbitraries (bounded so every total stays far below 2^53) ----------

const money = (max: number) => fc.integer({ min: 0, max });
const bps = fc.integer({ min: 0, max: 10000 }); // 0%..100%

const settingsArb: fc.Arbitrary<PricingSettings> = fc.record({
  taxRate: fc.integer({ min: 0, max: 3000 }),
  taxInclusive: fc.boolean(),
  serviceChargeRate: fc.integer({ min: 0, max: 2500 }),
  cardFee: fc.record({ enabled: fc.boolean(), rate: fc.integer({ min: 0, max: 500 }), min: money(100) }),
  discountsEnabled: fc.boolean(),
});

const lineArb: fc.Arbitrary<PricedLineInput> = fc.record({
  unitPrice: money(1_000_000),
  quantity: fc.integer({ min: 0, max: 100 }),
  modifiers: fc.array(fc.record({ price: money(100_000) }), { maxLength: 5 }),
});

const discountArb: fc.Arbitrary<DiscountInput> = fc.oneof(
  fc.record({ id: fc.string(), type: fc.constant('percent' as const), value: bps }),
  fc.record({ id: fc.string(), type: fc.constant('amount' as const), value: money(5_000_000) }),
);

const paymentArb: fc.Arbitrary<PaymentInput> = fc.record({
  method: fc.constantFrom('card', 'cash', 'gift'),
  status: fc.constantFrom('pending', 'succeeded', 'failed', 'cancelled', 'refunded'),
  amount: money(5_000_000),
  tip: money(100_000),
  fee: money(10_000),
});

const orderArb: fc.Arbitrary<PriceOrderInput> = fc.record({
  lines: fc.array(lineArb, { maxLength: 10 }),
  discounts: fc.array(discountArb, { maxLength: 4 }),
  payments: fc.array(paymentArb, { maxLength: 4 }),
  refunded: money(1_000_000),
  settings: settingsArb,
});

const baseSettings: PricingSettings = {
  taxRate: 0,
  taxInclusive: false,
  serviceChargeRate: 0,
  cardFee: { enabled: false, rate: 0, min: 0 },
  discountsEnabled: true,
};

const withSettings = (o: PriceOrderInput, s: Partial<PricingSettings>): PriceOrderInput => ({
  ...o,
  settings: { ...o.settings, ...s },
});

// ---------- mulDivRound ----------

describe('mulDivRound', () => {
  it('rounds half up, away from zero', () => {
    expect(mulDivRound(5, 1, 10)).toBe(1); // 0.5 -> 1
    expect(mulDivRound(4, 1, 10)).toBe(0); // 0.4 -> 0
    expect(mulDivRound(15, 1, 10)).toBe(2); // 1.5 -> 2
    expect(mulDivRound(25, 1, 10)).toBe(3); // 2.5 -> 3 (not banker's)
    expect(mulDivRound(-5, 1, 10)).toBe(-1); // -0.5 -> -1
    expect(mulDivRound(0, 123, 7)).toBe(0);
  });

  it('matches an exact BigInt reference, including beyond 2^53 products', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 20000 }),
        fc.integer({ min: 1, max: 20000 }),
        (a, b, c) => {
          const p = BigInt(a) * BigInt(b);
          const expected = (2n * p + BigInt(c)) / (2n * BigInt(c)); // floor(p/c + 1/2)
          fc.pre(expected <= BigInt(Number.MAX_SAFE_INTEGER));
          expect(mulDivRound(a, b, c)).toBe(Number(expected));
        },
      ),
    );
  });

  it('rejects non-integers and non-positive divisors', () => {
    expect(() => mulDivRound(1.5, 1, 1)).toThrow(RangeError);
    expect(() => mulDivRound(1, 1, 0)).toThrow(RangeError);
  });
});

// ---------- examples ----------

describe('priceOrder examples', () => {
  it('API contract example: 2 x (1150 + 100), 10% off, 8% exclusive tax', () => {
    const r = priceOrder({
      lines: [{ unitPrice: 1150, quantity: 2, modifiers: [{ price: 100 }] }],
      discounts: [{ id: 'd1', type: 'percent', value: 1000 }],
      payments: [],
      refunded: 0,
      settings: { ...baseSettings, taxRate: 800 },
    });
    expect(r.lineTotals).toEqual([2500]);
    expect(r.discountAmounts).toEqual([250]);
    expect(r.totals).toEqual({
      subtotal: 2500,
      discount: 250,
      serviceCharge: 0,
      tax: 180,
      cardFee: 0,
      tip: 0,
      total: 2430,
      paid: 0,
      refunded: 0,
      balance: 2430,
    });
  });

  it('inclusive tax is reported but not added', () => {
    // 1080 incl. 8%: net of tax = round(1080 * 10000 / 10800) = 1000, tax = 80
    const r = priceOrder({
      lines: [{ unitPrice: 1080, quantity: 1, modifiers: [] }],
      discounts: [],
      payments: [],
      refunded: 0,
      settings: { ...baseSettings, taxRate: 800, taxInclusive: true },
    });
    expect(r.totals.tax).toBe(80);
    expect(r.totals.total).toBe(1080);
  });

  it('inclusive tax rounds half up on the net-of-tax amount', () => {
    // 1001 incl. 10%: 1001 * 10000 / 11000 = 910.09 -> 910, tax 91; 1000 -> 909.09 -> 909, tax 91
    const price = (amount: number) =>
      priceOrder({
        lines: [{ unitPrice: amount, quantity: 1, modifiers: [] }],
        discounts: [],
        payments: [],
        refunded: 0,
        settings: { ...baseSettings, taxRate: 1000, taxInclusive: true },
      }).totals.tax;
    expect(price(1001)).toBe(91);
    expect(price(1000)).toBe(91);
    expect(price(11)).toBe(1); // 11 * 10000 / 11000 = 10 -> tax 1
  });

  it('service charge is on net, tax on net + service charge', () => {
    const r = priceOrder({
      lines: [{ unitPrice: 1000, quantity: 1, modifiers: [] }],
      discounts: [{ id: 'a', type: 'amount', value: 100 }],
      payments: [],
      refunded: 0,
      settings: { ...baseSettings, serviceChargeRate: 1250, taxRate: 1000 },
    });
    // net 900, sc round(112.5) = 113, tax round(101.3) = 101
    expect(r.totals).toMatchObject({ discount: 100, serviceCharge: 113, tax: 101, total: 1114 });
  });

  it('caps the running discount at the subtotal, in order', () => {
    const r = priceOrder({
      lines: [{ unitPrice: 1000, quantity: 1, modifiers: [] }],
      discounts: [
        { id: 'a', type: 'amount', value: 700 },
        { id: 'p', type: 'percent', value: 5000 }, // 500 wanted, only 300 left
        { id: 'b', type: 'amount', value: 50 },
      ],
      payments: [],
      refunded: 0,
      settings: baseSettings,
    });
    expect(r.discountAmounts).toEqual([700, 300, 0]);
    expect(r.totals.discount).toBe(1000);
    expect(r.totals.total).toBe(0);
  });

  it('counts only succeeded and refunded payments', () => {
    const pay = (status: PaymentInput['status']): PaymentInput => ({
      method: 'card',
      status,
      amount: 1000,
      tip: 100,
      fee: 30,
    });
    const r = priceOrder({
      lines: [{ unitPrice: 3000, quantity: 1, modifiers: [] }],
      discounts: [],
      payments: [pay('succeeded'), pay('refunded'), pay('pending'), pay('failed'), pay('cancelled')],
      refunded: 1130,
      settings: baseSettings,
    });
    expect(r.totals).toMatchObject({ cardFee: 60, tip: 200, paid: 2260, refunded: 1130, total: 3260, balance: 1000 });
  });

  it('card fee: percentage with a minimum', () => {
    const s: PricingSettings = { ...baseSettings, cardFee: { enabled: true, rate: 250, min: 30 } };
    expect(cardFeeFor(10_000, s)).toBe(250);
    expect(cardFeeFor(1000, s)).toBe(30); // 25 < min 30
    expect(cardFeeFor(1220, s)).toBe(31); // 30.5 -> 31
    expect(cardFeeFor(0, s)).toBe(0);
    expect(cardFeeFor(10_000, { ...s, cardFee: { ...s.cardFee, enabled: false } })).toBe(0);
  });

  it('rejects non-integer or negative money', () => {
    const order = (unitPrice: number): PriceOrderInput => ({
      lines: [{ unitPrice, quantity: 1, modifiers: [] }],
      discounts: [],
      payments: [],
      refunded: 0,
      settings: baseSettings,
    });
    expect(() => priceOrder(order(10.5))).toThrow(RangeError);
    expect(() => priceOrder(order(-1))).toThrow(RangeError);
  });
});

// ---------- properties ----------

describe('priceOrder properties', () => {
  it('totals are never negative and all outputs are safe integers', () => {
    fc.assert(
      fc.property(orderArb, (o) => {
        const r = priceOrder(o);
        const all = [...r.lineTotals, ...r.discountAmounts, ...Object.values(r.totals)];
        for (const v of all) {
          expect(Number.isSafeInteger(v)).toBe(true);
          expect(v).toBeGreaterThanOrEqual(0);
        }
        expect(r.discountAmounts).toHaveLength(o.discounts.length);
        expect(r.lineTotals).toHaveLength(o.lines.length);
      }),
    );
  });

  it('sum of line totals equals subtotal', () => {
    fc.assert(
      fc.property(orderArb, (o) => {
        const r = priceOrder(o);
        expect(r.lineTotals.reduce((a, b) => a + b, 0)).toBe(r.totals.subtotal);
      }),
    );
  });

  it('discount never exceeds subtotal and equals the sum of discount amounts', () => {
    fc.assert(
      fc.property(orderArb, (o) => {
        const { totals, discountAmounts } = priceOrder(o);
        expect(totals.discount).toBeLessThanOrEqual(totals.subtotal);
        expect(discountAmounts.reduce((a, b) => a + b, 0)).toBe(totals.discount);
      }),
    );
  });

  it('disabling discounts gives discount 0', () => {
    fc.assert(
      fc.property(orderArb, (o) => {
        const r = priceOrder(withSettings(o, { discountsEnabled: false }));
        expect(r.totals.discount).toBe(0);
        expect(r.discountAmounts.every((d) => d === 0)).toBe(true);
      }),
    );
  });

  it('inclusive tax never changes the total', () => {
    fc.assert(
      fc.property(orderArb, fc.integer({ min: 0, max: 3000 }), (o, rate) => {
        const noTax = priceOrder(withSettings(o, { taxRate: 0, taxInclusive: false }));
        const inclusive = priceOrder(withSettings(o, { taxRate: rate, taxInclusive: true }));
        expect(inclusive.totals.total).toBe(noTax.totals.total);
        // the contained tax is part of, and never more than, the taxable amount
        const taxable = noTax.totals.subtotal - noTax.totals.discount + noTax.totals.serviceCharge;
        expect(inclusive.totals.tax).toBeLessThanOrEqual(taxable);
      }),
    );
  });

  it('exclusive tax: total = net + service charge + tax (+ card fee + tip)', () => {
    fc.assert(
      fc.property(orderArb, (o) => {
        const { totals: t } = priceOrder(withSettings(o, { taxInclusive: false }));
        const net = t.subtotal - t.discount;
        expect(t.total).toBe(net + t.serviceCharge + t.tax + t.cardFee + t.tip);
        const { totals: bare } = priceOrder({ ...withSettings(o, { taxInclusive: false }), payments: [] });
        expect(bare.total).toBe(net + bare.serviceCharge + bare.tax);
      }),
    );
  });

  it('balance = max(0, total - paid)', () => {
    fc.assert(
      fc.property(orderArb, (o) => {
        const { totals: t } = priceOrder(o);
        expect(t.balance).toBe(Math.max(0, t.total - t.paid));
        expect(t.refunded).toBe(o.refunded);
      }),
    );
  });

  it('card fee >= min when enabled and amount > 0; 0 when amount is 0 or disabled', () => {
    fc.assert(
      fc.property(settingsArb, money(10_000_000), (s, amount) => {
        const fee = cardFeeFor(amount, s);
        expect(Number.isSafeInteger(fee)).toBe(true);
        if (!s.cardFee.enabled || amount === 0) expect(fee).toBe(0);
        else {
          expect(fee).toBeGreaterThanOrEqual(s.cardFee.min);
          expect(fee).toBe(Math.max(s.cardFee.min, mulDivRound(amount, s.cardFee.rate, 10000)));
        }
      }),
    );
  });

  it('is deterministic and does not mutate its input', () => {
    fc.assert(
      fc.property(orderArb, (o) => {
        const snapshot = structuredClone(o);
        const a = priceOrder(o);
        const b = priceOrder(structuredClone(o));
        expect(a).toEqual(b);
        expect(o).toEqual(snapshot);
      }),
    );
  });
});

// ---------- the MAX_MONEY bound (core/order.ts checks, used by the Update validators) ----------

const INT4_MAX = 2_147_483_647;

function emptyOrder(settings: PricingSettings): OrderState {
  const now = '2026-01-01T00:00:00.000Z';
  return {
    id: 'o',
    locationId: 'l',
    staffId: 's',
    terminalId: null,
    type: 'takeaway',
    table: null,
    customerName: null,
    orderNumber: 1,
    status: 'open',
    kitchenStatus: 'not_sent',
    version: 1,
    lines: [],
    discounts: [],
    payments: [],
    refunded: 0,
    settings: {
      ...settings,
      locationName: 'Shop',
      currency: 'USD',
      timezone: 'UTC',
      autoPrint: { receipt: false, kitchen: false, orderNumber: false },
    },
    createdAt: now,
    updatedAt: now,
    closedAt: null,
    cancelReason: null,
  };
}

/** A line request as the API would resolve it: any price a column holds, any quantity, priced modifiers. */
const boundLineArb = fc.record({
  price: fc.oneof(
    fc.integer({ min: 0, max: INT4_MAX }),
    fc.integer({ min: 0, max: 2 * MAX_MONEY }),
    fc.integer({ min: 0, max: 10_000 }),
  ),
  quantity: fc.integer({ min: 1, max: 999 }),
  modifierPrices: fc.array(fc.oneof(fc.integer({ min: 0, max: INT4_MAX }), fc.integer({ min: 0, max: 1000 })), {
    maxLength: 3,
  }),
});

function addLineRequest(l: { price: number; quantity: number; modifierPrices: number[] }, i: number) {
  const modifiers = l.modifierPrices.map((p, j) => ({ id: `m${i}-${j}`, name: 'mod', price: p, available: true }));
  return {
    item: {
      id: `i${i}`,
      name: 'item',
      price: l.price,
      available: true,
      trackStock: false,
      modifierLists: [{ id: `ml${i}`, name: 'list', minSelections: 0, maxSelections: 3, available: true, modifiers }],
    },
    quantity: l.quantity,
    modifierIds: modifiers.map((m) => m.id),
  };
}

describe('MAX_MONEY bound on orders', () => {
  it('every cart the add-line rule accepts keeps each price, line, subtotal and total within MAX_MONEY', () => {
    fc.assert(
      fc.property(settingsArb, fc.array(boundLineArb, { minLength: 1, maxLength: 12 }), (settings, lines) => {
        const state = emptyOrder(settings);
        lines.forEach((l, i) => {
          const req = addLineRequest(l, i);
          let modifiers;
          try {
            modifiers = checkAddLine(state, req);
          } catch (err) {
            expect(err).toBeInstanceOf(CartRejection);
            expect((err as CartRejection).kind).toBe('validation');
            return;
          }
          applyAddLine(state, req, modifiers, `line-${i}`, '2026-01-01T00:00:00.000Z');
        });
        const { lineTotals, totals } = price(state);
        for (const line of state.lines) {
          expect(line.unitPrice).toBeLessThanOrEqual(MAX_MONEY);
          for (const m of line.modifiers) expect(m.price).toBeLessThanOrEqual(MAX_MONEY);
        }
        for (const t of lineTotals) expect(t).toBeLessThanOrEqual(MAX_MONEY);
        expect(totals.subtotal).toBeLessThanOrEqual(MAX_MONEY);
        expect(totals.total).toBeLessThanOrEqual(MAX_MONEY);
      }),
    );
  });

  it('the add-line rule refuses a line only when it would break the bound (small carts always pass)', () => {
    fc.assert(
      fc.property(
        settingsArb,
        fc.array(
          fc.record({
            price: fc.integer({ min: 0, max: 10_000 }),
            quantity: fc.integer({ min: 1, max: 99 }),
            modifierPrices: fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 3 }),
          }),
          { maxLength: 10 },
        ),
        (settings, lines) => {
          const state = emptyOrder(settings);
          lines.forEach((l, i) => {
            const req = addLineRequest(l, i);
            applyAddLine(state, req, checkAddLine(state, req), `line-${i}`, '2026-01-01T00:00:00.000Z');
          });
          expect(state.lines).toHaveLength(lines.length);
        },
      ),
    );
  });
});
