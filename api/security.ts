import { SignJWT, jwtVerify } from 'jose';

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

/** Returns the claims of a valid, unexpired token (with when it expires), or undefined. */
export async function verifyToken(
  secret: string,
  token: string,
): Promise<(TokenClaims & { expiresAt: Date }) | undefined> {
  try {
    const { payload } = await jwtVerify(token, key(secret), { issuer: 'tillflow', algorithms: ['HS256'] });
    if (!payload.jti || !payload.sub || typeof payload.loc !== 'string' || !payload.exp) return undefined;
    return {
      sessionId: payload.jti,
      staffId: payload.sub,
      locationId: payload.loc,
      expiresAt: new Date(payload.exp * 1000),
    };
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
