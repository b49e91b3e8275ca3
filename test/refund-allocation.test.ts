import fc from 'fast-check';
import {
  allocateLineRefund,
  largestRemainder,
  lineShares,
  priceOrder,
  taxWasInclusive,
  type ChargedOrder,
  type PricedLineInput,
  type PriceOrderInput,
} from '../core/pricing';

/**
 * Refund allocation by line quantities (core/pricing.ts): refunding every line, in any order and
 * any number of partial refunds, gives back exactly what was charged for the lines.
 */

const money = (max: number) => fc.integer({ min: 0, max });

const lineArb: fc.Arbitrary<PricedLineInput> = fc.record({
  unitPrice: money(100_000),
  quantity: fc.integer({ min: 1, max: 12 }),
  modifiers: fc.array(fc.record({ price: money(5_000) }), { maxLength: 3 }),
});

const orderArb: fc.Arbitrary<PriceOrderInput> = fc.record({
  lines: fc.array(lineArb, { minLength: 1, maxLength: 6 }),
  discounts: fc.array(
    fc.oneof(
      fc.record({ id: fc.string(), type: fc.constant('percent' as const), value: fc.integer({ min: 0, max: 10000 }) }),
      fc.record({ id: fc.string(), type: fc.constant('amount' as const), value: money(200_000) }),
    ),
    { maxLength: 3 },
  ),
  payments: fc.array(
    fc.record({
      method: fc.constant('card'),
      status: fc.constant('succeeded' as const),
      amount: money(100_000),
      tip: money(2_000),
      fee: money(500),
    }),
    { maxLength: 2 },
  ),
  refunded: fc.constant(0),
  settings: fc.record({
    taxRate: fc.integer({ min: 0, max: 3000 }),
    taxInclusive: fc.boolean(),
    serviceChargeRate: fc.integer({ min: 0, max: 2500 }),
    cardFee: fc.constant({ enabled: false, rate: 0, min: 0 }),
    discountsEnabled: fc.boolean(),
  }),
});

function charged(input: PriceOrderInput): ChargedOrder {
  const priced = priceOrder(input);
  const t = priced.totals;
  return {
    lines: input.lines.map((l, i) => ({ quantity: l.quantity, total: priced.lineTotals[i]! })),
    discount: t.discount,
    serviceCharge: t.serviceCharge,
    tax: t.tax,
    taxInclusive: input.settings.taxInclusive,
  };
}

/** An order plus a sequence of partial refunds (line, quantity) that together refund every unit, shuffled. */
const scenarioArb = orderArb.chain((input) => {
  const chunks = input.lines.map((l, i) =>
    fc
      .array(fc.integer({ min: 1, max: l.quantity }), { minLength: 1, maxLength: l.quantity })
      .map((cuts) => splitQuantity(l.quantity, cuts).map((q) => ({ line: i, q }))),
  );
  return fc.tuple(
    fc.constant(input),
    fc.tuple(...chunks).chain((parts) => fc.shuffledSubarray(parts.flat(), { minLength: parts.flat().length })),
  );
});

/** Splits `total` into positive parts at the given cut points. */
function splitQuantity(total: number, cuts: number[]): number[] {
  const points = [...new Set(cuts.filter((c) => c < total))].sort((a, b) => a - b);
  const parts: number[] = [];
  let prev = 0;
  for (const p of [...points, total]) {
    parts.push(p - prev);
    prev = p;
  }
  return parts;
}

/** Applies the refunds one by one; returns each refund's allocation. */
function refundAll(order: ChargedOrder, steps: { line: number; q: number }[]) {
  const done = order.lines.map(() => 0);
  return steps.map((s) => {
    const quantities = order.lines.map((_, i) => (i === s.line ? s.q : 0));
    const r = allocateLineRefund(order, done, quantities);
    done[s.line]! += s.q;
    return r;
  });
}

const total = (xs: { amount: number }[]) => xs.reduce((a, x) => a + x.amount, 0);

describe('refund allocation by line quantities', () => {
  it('refunding every unit in any order and any number of refunds gives back exactly what was charged for the lines', () => {
    fc.assert(
      fc.property(scenarioArb, ([input, steps]) => {
        const t = priceOrder(input).totals;
        const refunds = refundAll(charged(input), steps);
        expect(total(refunds)).toBe(t.total - t.cardFee - t.tip);
      }),
      { numRuns: 300 },
    );
  });

  it('every component (net, service charge, tax) sums to the order component exactly', () => {
    fc.assert(
      fc.property(scenarioArb, ([input, steps]) => {
        const t = priceOrder(input).totals;
        const refunds = refundAll(charged(input), steps);
        const sumOf = (k: 'net' | 'serviceCharge' | 'tax') => refunds.reduce((a, r) => a + r[k], 0);
        expect([sumOf('net'), sumOf('serviceCharge'), sumOf('tax')]).toEqual([
          t.subtotal - t.discount,
          t.serviceCharge,
          t.tax,
        ]);
      }),
      { numRuns: 300 },
    );
  });

  it('no refund is ever negative, and a line gives back exactly its own share once all its units are refunded', () => {
    fc.assert(
      fc.property(scenarioArb, ([input, steps]) => {
        const order = charged(input);
        const refunds = refundAll(order, steps);
        for (const r of refunds)
          for (const l of r.lines) expect(Math.min(l.net, l.serviceCharge, l.tax, l.amount)).toBeGreaterThanOrEqual(0);
        const perLine = order.lines.map((_, i) => refunds.reduce((a, r) => a + r.lines[i]!.amount, 0));
        expect(perLine).toEqual(lineShares(order).map((s) => s.amount));
      }),
      { numRuns: 300 },
    );
  });

  it('refunding all of every line at once gives each line its full share', () => {
    fc.assert(
      fc.property(orderArb, (input) => {
        const order = charged(input);
        const all = allocateLineRefund(
          order,
          [],
          order.lines.map((l) => l.quantity),
        );
        const shares = lineShares(order);
        expect(all.lines).toEqual(shares);
      }),
      { numRuns: 200 },
    );
  });

  it('largest remainder: shares sum to the total and each is within one unit of its exact proportion', () => {
    fc.assert(
      fc.property(money(1_000_000), fc.array(money(1_000_000), { minLength: 1, maxLength: 8 }), (t, weights) => {
        const shares = largestRemainder(t, weights);
        expect(shares.reduce((a, b) => a + b, 0)).toBe(t);
        const W = weights.reduce((a, b) => a + b, 0);
        if (W > 0) shares.forEach((s, i) => expect(Math.abs(s * W - t * weights[i]!)).toBeLessThan(W));
      }),
    );
  });

  it('reads whether the tax was inclusive from the totals', () => {
    fc.assert(
      fc.property(orderArb, (input) => {
        const t = priceOrder(input).totals;
        fc.pre(t.tax > 0);
        expect(taxWasInclusive(t)).toBe(input.settings.taxInclusive);
      }),
    );
  });

  it('splits a discounted, taxed order by line (worked example)', () => {
    // 2 × 1000 and 1 × 500, 10% discount (250), 10% service (225), 8% exclusive tax (198)
    const order: ChargedOrder = {
      lines: [
        { quantity: 2, total: 2000 },
        { quantity: 1, total: 500 },
      ],
      discount: 250,
      serviceCharge: 225,
      tax: 198,
      taxInclusive: false,
    };
    const one = allocateLineRefund(order, [0, 0], [1, 0]);
    expect(one).toMatchObject({ net: 900, serviceCharge: 90, tax: 79, amount: 1069 });
    const rest = allocateLineRefund(order, [1, 0], [1, 1]);
    expect(one.amount + rest.amount).toBe(2250 + 225 + 198);
  });

  it('refuses to refund more units than the line has', () => {
    const order: ChargedOrder = {
      lines: [{ quantity: 2, total: 2000 }],
      discount: 0,
      serviceCharge: 0,
      tax: 0,
      taxInclusive: false,
    };
    expect(() => allocateLineRefund(order, [1], [2])).toThrow(RangeError);
  });
});
