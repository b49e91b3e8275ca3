/** How a PIN is stored: an HMAC lookup key and a salted scrypt hash (never the PIN itself). */
import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;
// N=2^14 keeps one verification around 30-50 ms on a Raspberry Pi-class CPU.
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/**
 * PINs are only 4 digits, so they are never stored in a form that can be reversed:
 * `pinLookup` (HMAC with the server secret) finds the staff member and enforces uniqueness per
 * location; `hashPin` (salted scrypt) is the slow hash that verifies it.
 */
export function pinLookup(secret: string, pin: string): string {
  return createHmac('sha256', secret)
    .update('pin:' + pin)
    .digest('base64url');
}

export async function hashPin(pin: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(pin, salt, 32, SCRYPT);
  return `scrypt$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyPin(pin: string, stored: string): Promise<boolean> {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scrypt(pin, Buffer.from(salt, 'base64url'), expected.length, SCRYPT);
  return timingSafeEqual(actual, expected);
}
