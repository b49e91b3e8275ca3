/**
 * Display formatting for money. Pure and dependency-free (no Node, no npm):
 * safe to import from Temporal workflow code.
 */

/** ISO 4217 currencies whose minor unit is not 1/100. Everything else has 2 decimals. */
const MINOR_UNIT_DIGITS: Readonly<Record<string, number>> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
};

/** Number of decimals in `currency`'s minor unit (2 unless listed above). */
export function minorUnitDigits(currency: string): number {
  return MINOR_UNIT_DIGITS[currency.toUpperCase()] ?? 2;
}

/**
 * Integer minor units to "CUR 12.34": formatMoney(2430, 'USD') === 'USD 24.30',
 * formatMoney(-250, 'usd') === '-USD 2.50', formatMoney(500, 'JPY') === 'JPY 500'.
 * Throws a RangeError for non-integer amounts (money is never a float here).
 */
export function formatMoney(minor: number, currency: string): string {
  if (!Number.isSafeInteger(minor)) {
    throw new RangeError(`formatMoney needs integer minor units, got ${minor}`);
  }
  const code = currency.trim().toUpperCase();
  const digits = minorUnitDigits(code);
  const abs = String(Math.abs(minor)).padStart(digits + 1, '0');
  const major = digits === 0 ? abs : `${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
  return `${minor < 0 ? '-' : ''}${code} ${major}`;
}
