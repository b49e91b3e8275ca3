import * as yup from 'yup';
import { conflict } from './errors';
import { MAX_MONEY } from '../core/money';

/** Any RFC 4122 UUID version (yup's own uuid() rejects v6/v7, which client SDKs generate). */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Largest value of the integer columns: anything above must be a 422, not a database error. */
export const INT4_MAX = 2_147_483_647;

/** A UUID in a path, body or query: strict, and never the empty string. */
export const uuid = () => yup.string().strict().matches(UUID_RE, '${path} must be a UUID');
/** Integer minor units (cents), at most MAX_MONEY: no price, amount or total can overflow a column. */
export const money = () =>
  yup
    .number()
    .strict()
    .integer('${path} must be an integer amount in minor units')
    .min(0)
    .max(MAX_MONEY, `\${path} may be at most ${MAX_MONEY} minor units`);
export const basisPoints = () => yup.number().strict().integer().min(0).max(10000);
export const int = () => yup.number().strict().integer();
export const int4 = () => int().min(-INT4_MAX, '${path} is too small').max(INT4_MAX, '${path} is too large');
export const count = () => int().min(0).max(INT4_MAX, '${path} is too large');
export const bool = () => yup.boolean().strict();
/** What String.prototype.trim removes, spelled out so the OpenAPI pattern means the same in every regex engine. */
const TRIMMED = '\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
/**
 * Text, trimmed before it is checked and stored (no number-to-string casting: a number is a
 * 422). Postgres cannot store NUL, so it is refused here as a 422 too. The trim only ever sees a
 * string: anything else stays as it is and fails the type check (yup's own trim() would throw).
 */
export const text = (max = 200) =>
  yup
    .string()
    .test(
      'is-text',
      '${path} must be text',
      (_v, ctx) => ctx.originalValue == null || typeof ctx.originalValue === 'string',
    )
    .transform((v, original) => (typeof original === 'string' ? original.trim() : original))
    .max(max)
    .test('no-nul', '${path} must not contain NUL characters', (v) => v == null || !v.includes('\0'))
    .meta({ jsonSchema: { pattern: '^[^\\u0000]*$' } });
/** Text that is not empty once trimmed (the spec's pattern asks for one character trim keeps). */
export const nonBlank = (max = 200) =>
  text(max)
    .min(1, '${path} must not be empty')
    .meta({ jsonSchema: { pattern: `^[^\\u0000]*[^\\u0000${TRIMMED}][^\\u0000]*$` } });
export const name = () => nonBlank(200);
export const idParams = yup.object({ id: uuid().required() });
export const noUnknown = <T extends yup.AnyObject>(s: yup.ObjectSchema<T>) =>
  s.noUnknown(true, '${path} has unknown field(s): ${unknown}');

/** A PATCH body must change something. */
export const nonEmpty = <S extends yup.AnyObjectSchema>(schema: S): S =>
  schema.test(
    'non-empty',
    'Send at least one field to change',
    (v: Record<string, unknown> | null | undefined) => v == null || Object.values(v).some((x) => x !== undefined),
  ) as S;

/** Drops undefined keys so a PATCH only touches what was sent. */
export const defined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/** Maps a unique-index violation to 409 with a readable message; rethrows anything else. */
export function conflictOnUnique(messages: Record<string, string>) {
  return (err: unknown): never => {
    const e = ((err as { nativeError?: unknown }).nativeError ?? err) as { code?: string; constraint?: string };
    if (e?.code === '23505' && e.constraint && messages[e.constraint]) throw conflict(messages[e.constraint]!);
    throw err;
  };
}

/** A real calendar day YYYY-MM-DD (2024-02-30 is not one); `format: date` in the spec. */
export const isoDate = () =>
  yup
    .string()
    .matches(/^\d{4}-\d{2}-\d{2}$/, '${path} must be a date YYYY-MM-DD')
    .test('calendar-day', '${path} is not a valid date', (v) => v == null || isCalendarDay(v))
    .meta({ jsonSchema: { format: 'date' } });

export function isCalendarDay(v: string): boolean {
  const t = Date.parse(`${v}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === v;
}
