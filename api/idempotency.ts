import type { ParameterizedContext } from 'koa';
import { badRequest } from './errors';

/**
 * The `Idempotency-Key` header of an order or payment request. It becomes the Temporal Update id,
 * so a repeat with the same key returns the first result and changes nothing.
 */
export function idempotencyKey(ctx: ParameterizedContext): string | undefined {
  const key = ctx.get('idempotency-key');
  if (!key) return undefined;
  if (key.length > 128 || !/^[\x21-\x7e]+$/.test(key)) throw badRequest('Idempotency-Key must be 1-128 visible ASCII characters');
  return key;
}
