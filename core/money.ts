/**
 * Integer money helpers. Money is always integer minor units (cents); rates are
 * basis points (10000 = 100%). No floats are used for money anywhere.
 *
 * Pure, dependency-free: safe to import from Temporal workflow code.
 */

export const BPS = 10000;

/**
 * The largest price, amount or order total Tillflow accepts (999,999.99 in a two-decimal
 * currency). Far below every integer column's limit, so no stored total, line or payment — nor
 * any sum of a few of them — can overflow a column whatever its type.
 */
export const MAX_MONEY = 99_999_999;

/** Throws unless `value` is a non-negative safe integer (money, quantity or rate). */
export function assertNonNegativeInt(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${value}`);
  }
  return value;
}

/** Throws unless `value` is a safe integer; guards sums/products against overflow. */
export function safe(value: number, what = 'amount'): number {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${what} is not a safe integer: ${value}`);
  }
  return value;
}

/** Sum of a list of integers (overflow-checked). */
export function sum(values: readonly number[]): number {
  return safe(
    values.reduce((acc, v) => acc + v, 0),
    'sum',
  );
}

/**
 * round(a * b / c) with integer arithmetic, rounding half up (away from zero).
 * `c` must be a positive integer. Uses BigInt only when a * b is not a safe integer.
 */
export function mulDivRound(a: number, b: number, c: number): number {
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || !Number.isSafeInteger(c) || c <= 0) {
    throw new RangeError(`mulDivRound needs integers and c > 0, got (${a}, ${b}, ${c})`);
  }
  const negative = a < 0 !== b < 0 && a !== 0 && b !== 0;
  const product = Math.abs(a) * Math.abs(b);
  let result: number;
  if (Number.isSafeInteger(product)) {
    const rem = product % c; // exact for safe integers
    result = (product - rem) / c + (2 * rem >= c ? 1 : 0);
  } else {
    const p = BigInt(Math.abs(a)) * BigInt(Math.abs(b));
    const big = BigInt(c);
    const rem = p % big;
    result = safe(Number(p / big + (2n * rem >= big ? 1n : 0n)), 'mulDivRound result');
  }
  return negative ? -result : result;
}
