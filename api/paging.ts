import * as yup from 'yup';
import { fieldError } from './errors';

/** Query-string helpers shared by the support listings (audit, payments). */

/** RFC 3339 date-time, as `format: date-time` states it (a leap second :60 is read as :59). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
export const parseInstant = (v: string): Date => new Date(v.replace(/:60(?=[.Zz+-]|$)/, ':59').replace(/[t ]/, 'T'));

/** An ISO 8601 instant in a query string (start inclusive, end exclusive). */
export const instant = () =>
  yup
    .string()
    .strict()
    .test(
      'date-time',
      '${path} must be an RFC 3339 date-time (e.g. 2026-12-01T09:00:00Z)',
      (v) => v === undefined || (RFC3339.test(v) && !Number.isNaN(parseInstant(v).getTime())),
    )
    .meta({ jsonSchema: { format: 'date-time' } });

/** A whole number in a query string (a repeated parameter arrives as an array and is refused). */
export const wholeNumber = () =>
  yup
    .number()
    .transform((_v, orig: unknown) =>
      orig === undefined ? undefined : typeof orig === 'string' && /^\d{1,6}$/.test(orig) ? Number(orig) : NaN,
    )
    .typeError('${path} must be a whole number')
    .meta({ jsonSchema: { type: 'integer' } });

export const limit = (max = 500, dflt = 100) => wholeNumber().integer().min(1).max(max).default(dflt);
export const cursor = () => yup.string().max(200);

/**
 * Keyset cursors: the last row's sort key, opaque to clients (base64url of `<kind>:<parts>`).
 * A cursor that does not decode to the same kind is a 422, never a database error.
 */
export function encodeCursor(kind: string, parts: string[]): string {
  return Buffer.from(`${kind}:${parts.join('|')}`).toString('base64url');
}

export function decodeCursor(kind: string, value: string, patterns: RegExp[]): string[] {
  const text = Buffer.from(value, 'base64url').toString();
  const prefix = `${kind}:`;
  const parts = text.startsWith(prefix) ? text.slice(prefix.length).split('|') : [];
  if (parts.length !== patterns.length || !parts.every((p, i) => patterns[i]!.test(p)))
    throw fieldError('query.cursor', 'cursor is not one this API gave out');
  return parts;
}
