import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { SignJWT, jwtVerify } from 'jose';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;
// N=2^14 keeps one verification around 30-50 ms on a Raspberry Pi-class CPU.
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/**
 * PINs are only 4 digits, so they are never stored in a form that can be reversed:
 * `pinLookup` (HMAC with the server secret) finds the staff member and enforces uniqueness per
 * location; `hashPin` (salted scrypt) is the slow hash that verifies it.
 */
export function pinLookup(secret: string, pin: string): string {
  return createHmac('sha256', secret).update('pin:' + pin).digest('base64url');
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

export interface TokenClaims {
  sessionId: string;
  staffId: string;
  locationId: string;
}

const key = (secret: string) => new TextEncoder().encode(secret);

export async function signToken(secret: string, claims: TokenClaims, expiresAt: Date): Promise<string> {
  return new SignJWT({ loc: claims.locationId })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.staffId)
    .setJti(claims.sessionId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .setIssuer('tillflow')
    .sign(key(secret));
}

/** Returns the claims of a valid, unexpired token, or undefined. */
export async function verifyToken(secret: string, token: string): Promise<TokenClaims | undefined> {
  try {
    const { payload } = await jwtVerify(token, key(secret), { issuer: 'tillflow', algorithms: ['HS256'] });
    if (!payload.jti || !payload.sub || typeof payload.loc !== 'string') return undefined;
    return { sessionId: payload.jti, staffId: payload.sub, locationId: payload.loc };
  } catch {
    return undefined;
  }
}

/**
 * Rank of each role (owner > admin > manager > cashier > kitchen): nobody may change someone
 * ranked above them, nor give anyone a role above their own. Unknown roles rank lowest.
 */
const ROLE_RANK: Record<string, number> = { owner: 4, admin: 3, manager: 2, cashier: 1, kitchen: 0 };
export const roleRank = (role: string): number => ROLE_RANK[role] ?? -1;

/** Admins and owners guard more and may choose PINs of up to 8 digits; everyone else has 4. */
export const PIN_MIN_DIGITS = 4;
export const maxPinDigits = (role: string): number => (roleRank(role) >= roleRank('admin') ? 8 : 4);
