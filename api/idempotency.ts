import type { ParameterizedContext } from 'koa';
import { badRequest, validationError } from './errors';

/**
 * The `Idempotency-Key` header of an order or payment request. It becomes the Temporal Update id,
 * so a repeat with the same key returns the first result and changes nothing.
 */
export function idempotencyKey(ctx: ParameterizedContext): string | undefined {
  const key = ctx.get('idempotency-key');
  if (!key) return undefined;
  if (key.length > 128 || !/^[\x21-\x7e]+$/.test(key))
    throw badRequest('Idempotency-Key must be 1-128 visible ASCII characters');
  return key;
}

/** The same header where a retry must be safe (payments): its absence is a 422 naming it. */
export function requiredIdempotencyKey(ctx: ParameterizedContext): string {
  const key = idempotencyKey(ctx);
  if (!key)
    throw validationError('The Idempotency-Key header is required', [
      { path: 'Idempotency-Key', message: 'The Idempotency-Key header is required: retry with the same key' },
    ]);
  return key;
}
