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
 *     balance  = max(0, total - paid);  refunded = input.refunded
 *     (the cart rules in core/order.ts never let total fall below paid, so the
 *     clamp hides nothing: an order with paid > total cannot arise)
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
export interface PricedModifier { price: number }
export interface PricedLineInput { unitPrice: number; quantity: number; modifiers: PricedModifier[] }
/** Percent `value` is in basis points; amount `value` is in minor units. */
export interface DiscountInput { id: string; type: 'percent' | 'amount'; value: number }
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
      balance: Math.max(0, total - paid),
    },
  };
}
