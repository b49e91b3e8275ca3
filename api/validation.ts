import * as yup from 'yup';
import { conflict } from './errors';
import { MAX_MONEY } from '../core/money';

/** Any RFC 4122 UUID version (yup's own uuid() rejects v6/v7, which client SDKs generate). */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Largest value of the integer columns: anything above must be a 422, not a database error. */
export const INT4_MAX = 2_147_483_647;

/** A UUID in a path, body or query: strict, and never the empty string. */
export const uuid = () => yup.string().strict().matches(UUID_RE, '${path} must be a UUID');
export const ref = uuid;
/** Integer minor units (cents), at most MAX_MONEY: no price, amount or total can overflow a column. */
export const money = () =>
  yup.number().strict().integer('${path} must be an integer amount in minor units').min(0).max(MAX_MONEY, `\${path} may be at most ${MAX_MONEY} minor units`);
export const amount = money;
export const basisPoints = () => yup.number().strict().integer().min(0).max(10000);
export const int = () => yup.number().strict().integer();
export const int4 = () => int().min(-INT4_MAX, '${path} is too small').max(INT4_MAX, '${path} is too large');
export const count = () => int().min(0).max(INT4_MAX, '${path} is too large');
export const bool = () => yup.boolean().strict();
/**
 * Text, trimmed before it is checked and stored (no number-to-string casting: a number is a
 * 422). Postgres cannot store NUL, so it is refused here as a 422 too.
 */
export const text = (max = 200) =>
  yup
    .string()
    .test('is-text', '${path} must be text', (_v, ctx) => ctx.originalValue == null || typeof ctx.originalValue === 'string')
    .trim()
    .max(max)
    .matches(/^[^\0]*$/, { message: '${path} must not contain NUL characters', excludeEmptyString: true });
export const plain = text;
export const name = () => text(200).min(1, '${path} must not be empty');
export const pin = () =>
  yup.string().strict().matches(/^\d{4}$/, { message: 'PIN must be exactly 4 digits', excludeEmptyString: false });

export const idParams = yup.object({ id: uuid().required() });
export const noUnknown = <T extends yup.AnyObject>(s: yup.ObjectSchema<T>) => s.noUnknown(true, '${path} has unknown field(s): ${unknown}');

/** A PATCH body must change something. */
export const nonEmpty = <S extends yup.AnyObjectSchema>(schema: S): S =>
  schema.test('non-empty', 'Send at least one field to change', (v: Record<string, unknown> | undefined) =>
    Object.values(v ?? {}).some((x) => x !== undefined),
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
