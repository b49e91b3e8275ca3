/**
 * Order pricing — the one pure pricing function of Tillflow.
 *
 * Units: all money is integer minor units (cents); all rates are basis points
 * (1000 = 10%). No floats are used for money. Every input amount, quantity and
 * rate must be a non-negative safe integer, otherwise a RangeError is thrown.
 *
 * ROUNDING RULE: every percentage is computed once, on the amount named below,
 * with integer arithmetic, rounding half up (away from zero) — round(x) below
 * means mulDivRound from ./money.
 *
 *  1. line total  = (unitPrice + sum of modifier prices) * quantity   (exact)
 *     subtotal    = sum of line totals
 *  2. discounts   = all 0 unless settings.discountsEnabled. Otherwise, in order:
 *       percent: round(subtotal * value / 10000)   (value in basis points)
 *       amount:  value
 *     The running discount total is capped at the subtotal: a discount that
 *     would exceed it is reduced, later ones become 0. discount = sum.
 *  3. net           = subtotal - discount
 *     serviceCharge = round(net * serviceChargeRate / 10000)
 *  4. taxable = net + serviceCharge
 *       exclusive: tax = round(taxable * taxRate / 10000), added to the total
 *       inclusive: tax = taxable - round(taxable * 10000 / (10000 + taxRate)),
 *                  the tax already contained in taxable; NOT added (inclusive
 *                  tax never changes the total).
 *  5. Counted payments are those with status 'succeeded' or 'refunded' (a
 *     refunded payment still counts; the refund is reported in `refunded`).
 *       cardFee = sum of fee, tip = sum of tip,
 *       paid    = sum of (amount + tip + fee)          over counted payments.
 *  6. total    = net + serviceCharge + (exclusive tax) + cardFee + tip
 *     balance  = max(0, total - paid + returnedBeforeSale);  refunded = input.refunded
 *     returnedBeforeSale: refunds that succeeded while the order was still open
 *     (a split tender taken back): that money is due again. Refunds after the
 *     sale are returns and owe nothing. (The cart rules in core/order.ts never
 *     let total fall below the money kept, so the clamp hides nothing.)
 *
 * Card fee for a single card payment (cardFeeFor): 0 if disabled or amount is
 * 0, else max(min, round(amount * rate / 10000)).
 *
 * Example (API contract): 2 x (1150 + 100 modifier) = 2500; 10% discount = 250;
 * net 2250; 8% exclusive tax = 180; total 2430; balance 2430.
 *
 * This module imports nothing outside core/: it runs inside Temporal workflows.
 */
import { BPS, assertNonNegativeInt as check, mulDivRound, safe, sum } from './money';

export interface PricingSettings {
  taxRate: number;
  taxInclusive: boolean;
  serviceChargeRate: number;
  cardFee: { enabled: boolean; rate: number; min: number };
  discountsEnabled: boolean;
}
export interface PricedModifier {
  price: number;
}
export interface PricedLineInput {
  unitPrice: number;
  quantity: number;
  modifiers: PricedModifier[];
}
/** Percent `value` is in basis points; amount `value` is in minor units. */
export interface DiscountInput {
  id: string;
  type: 'percent' | 'amount';
  value: number;
}
export interface PaymentInput {
  method: string;
  status: 'pending' | 'succeeded' | 'failed' | 'cancelled' | 'refunded';
  amount: number;
  tip: number;
  fee: number;
}
export interface Totals {
  subtotal: number;
  discount: number;
  serviceCharge: number;
  tax: number;
  cardFee: number;
  tip: number;
  total: number;
  paid: number;
  refunded: number;
  balance: number;
}
export interface PricingResult {
  lineTotals: number[];
  /** One per DiscountInput, same order. */
  discountAmounts: number[];
  totals: Totals;
}
export interface PriceOrderInput {
  lines: PricedLineInput[];
  discounts: DiscountInput[];
  payments: PaymentInput[];
  refunded: number;
  /** Of `refunded`, what was refunded while the order was open (absent: none). */
  returnedBeforeSale?: number;
  settings: PricingSettings;
}

const COUNTED_STATUSES: ReadonlySet<PaymentInput['status']> = new Set(['succeeded', 'refunded']);

/** Fee a card payment of `amount` carries: 0 if disabled (or amount 0), else max(min, rate of amount). */
export function cardFeeFor(amount: number, settings: PricingSettings): number {
  check(amount, 'card payment amount');
  const { enabled, rate, min } = settings.cardFee;
  if (!enabled || amount === 0) return 0;
  return Math.max(check(min, 'cardFee.min'), mulDivRound(amount, check(rate, 'cardFee.rate'), BPS));
}

export function priceOrder(input: PriceOrderInput): PricingResult {
  const { settings } = input;
  const taxRate = check(settings.taxRate, 'taxRate');
  const serviceChargeRate = check(settings.serviceChargeRate, 'serviceChargeRate');

  // 1. lines
  const lineTotals = input.lines.map((line, i) => {
    const modifiers = sum(line.modifiers.map((m) => check(m.price, `lines[${i}].modifier.price`)));
    const unit = safe(check(line.unitPrice, `lines[${i}].unitPrice`) + modifiers);
    return safe(unit * check(line.quantity, `lines[${i}].quantity`), `lines[${i}] total`);
  });
  const subtotal = sum(lineTotals);

  // 2. discounts, running total capped at subtotal
  let discount = 0;
  const discountAmounts = input.discounts.map((d) => {
    const value = check(d.value, `discount ${d.id} value`);
    if (!settings.discountsEnabled) return 0;
    const wanted = d.type === 'percent' ? mulDivRound(subtotal, value, BPS) : value;
    const applied = Math.min(wanted, subtotal - discount);
    discount += applied;
    return applied;
  });

  // 3. service charge
  const net = subtotal - discount;
  const serviceCharge = mulDivRound(net, serviceChargeRate, BPS);

  // 4. tax
  const taxable = safe(net + serviceCharge);
  const tax = settings.taxInclusive
    ? taxable - mulDivRound(taxable, BPS, BPS + taxRate)
    : mulDivRound(taxable, taxRate, BPS);
  const exclusiveTax = settings.taxInclusive ? 0 : tax;

  // 5. payments
  const counted = input.payments.filter((p, i) => {
    check(p.amount, `payments[${i}].amount`);
    check(p.tip, `payments[${i}].tip`);
    check(p.fee, `payments[${i}].fee`);
    return COUNTED_STATUSES.has(p.status);
  });
  const cardFee = sum(counted.map((p) => p.fee));
  const tip = sum(counted.map((p) => p.tip));
  const paid = sum(counted.map((p) => p.amount + p.tip + p.fee));

  // 6. totals
  const total = safe(taxable + exclusiveTax + cardFee + tip, 'total');
  return {
    lineTotals,
    discountAmounts,
    totals: {
      subtotal,
      discount,
      serviceCharge,
      tax,
      cardFee,
      tip,
      total,
      paid,
      refunded: check(input.refunded, 'refunded'),
      balance: Math.max(0, total - paid + check(input.returnedBeforeSale ?? 0, 'returnedBeforeSale')),
    },
  };
}

/*
 * REFUND ALLOCATION — what refunding some line quantities gives back.
 *
 * Each charged component of the order (discount, service charge, tax) is first shared out over
 * its lines in proportion (largest remainder: floor shares, the leftover units go to the largest
 * fractional parts, ties to the earlier line), so the line shares of a component sum to exactly
 * that component:
 *   discount      by line total (gross)
 *   serviceCharge by line net (gross − discount share)
 *   tax           by line net + service-charge share
 * A line's share for q of its Q units is floor(share * q / Q), taken CUMULATIVELY over everything
 * refunded from that line so far: a refund gives back F(after) − F(before). The sum over any
 * sequence of partial refunds therefore telescopes to F(all units) = exactly what was charged,
 * whatever the order or number of the refunds, and no refund is ever negative (F is monotone).
 * Tip and card fee are never part of a line refund (only of an amount or full refund).
 * Inclusive tax is contained in net + service charge: it is reported but not added to `amount`.
 */
export interface ChargedOrder {
  lines: { quantity: number; total: number }[];
  discount: number;
  serviceCharge: number;
  tax: number;
  taxInclusive: boolean;
}
export interface RefundComponents {
  net: number;
  serviceCharge: number;
  tax: number;
  /** What goes back to the customer: net + service charge (+ tax when exclusive). */
  amount: number;
}
export interface LineRefundAllocation extends RefundComponents {
  /** One per order line (0 for lines not refunded now). */
  lines: RefundComponents[];
}

/** floor(a * b / c) for non-negative integers, exact (BigInt) whatever the size of a * b. */
function floorMulDiv(a: number, b: number, c: number): number {
  return safe(Number((BigInt(a) * BigInt(b)) / BigInt(c)), 'allocation');
}

/** Shares `total` over `weights` in proportion, largest remainder; the shares sum to `total`. */
export function largestRemainder(total: number, weights: readonly number[]): number[] {
  check(total, 'allocation total');
  weights.forEach((w, i) => check(w, `weights[${i}]`));
  if (weights.length === 0) return [];
  const w = sum(weights) === 0 ? weights.map(() => 1) : weights; // nothing to weigh by: equal shares
  const W = sum(w);
  const shares = w.map((x) => floorMulDiv(total, x, W));
  // remainder of total * x / W, compared exactly (BigInt); ties go to the earlier line
  const rems = w.map((x, i) => ({ i, rem: BigInt(total) * BigInt(x) - BigInt(shares[i]!) * BigInt(W) }));
  rems.sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
  let left = total - sum(shares);
  for (const r of rems) {
    if (left <= 0) break;
    shares[r.i]! += 1;
    left -= 1;
  }
  return shares;
}

/** Each line's full share of every component (the split of the whole order). */
export function lineShares(order: ChargedOrder): RefundComponents[] {
  const gross = order.lines.map((l, i) => check(l.total, `lines[${i}].total`));
  const discount = largestRemainder(order.discount, gross);
  const net = gross.map((g, i) => g - discount[i]!);
  const service = largestRemainder(order.serviceCharge, net);
  const tax = largestRemainder(
    order.tax,
    net.map((n, i) => n + service[i]!),
  );
  return net.map((n, i) => components(n, service[i]!, tax[i]!, order.taxInclusive));
}

function components(net: number, serviceCharge: number, tax: number, taxInclusive: boolean): RefundComponents {
  return { net, serviceCharge, tax, amount: net + serviceCharge + (taxInclusive ? 0 : tax) };
}

/** A line's cumulative share for `q` of its `Q` units (exact at q = Q, 0 at q = 0). */
function partOf(share: RefundComponents, q: number, Q: number, taxInclusive: boolean): RefundComponents {
  const part = (x: number) => (Q === 0 ? 0 : floorMulDiv(x, q, Q));
  return components(part(share.net), part(share.serviceCharge), part(share.tax), taxInclusive);
}

/**
 * The refund of `quantities[i]` more units of each line, given `alreadyRefunded[i]` units refunded
 * before. Throws a RangeError when a line would be refunded beyond its quantity.
 */
export function allocateLineRefund(
  order: ChargedOrder,
  alreadyRefunded: readonly number[],
  quantities: readonly number[],
): LineRefundAllocation {
  const shares = lineShares(order);
  const lines = order.lines.map((l, i) => {
    const before = check(alreadyRefunded[i] ?? 0, `alreadyRefunded[${i}]`);
    const after = before + check(quantities[i] ?? 0, `quantities[${i}]`);
    if (after > l.quantity) throw new RangeError(`line ${i}: ${after} of ${l.quantity} units would be refunded`);
    const a = partOf(shares[i]!, after, l.quantity, order.taxInclusive);
    const b = partOf(shares[i]!, before, l.quantity, order.taxInclusive);
    return components(a.net - b.net, a.serviceCharge - b.serviceCharge, a.tax - b.tax, order.taxInclusive);
  });
  const total = (k: keyof RefundComponents) => sum(lines.map((l) => l[k]));
  return {
    net: total('net'),
    serviceCharge: total('serviceCharge'),
    tax: total('tax'),
    amount: total('amount'),
    lines,
  };
}

/** Whether the order's tax was inclusive, read from its totals (exclusive tax is part of the total). */
export function taxWasInclusive(t: Totals): boolean {
  return t.tax > 0 && t.total !== t.subtotal - t.discount + t.serviceCharge + t.tax + t.cardFee + t.tip;
}
