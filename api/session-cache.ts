import type { AuthContext } from './types';

/** Far more tokens than a shop's terminals hold; past it the cache starts over (never unbounded). */
const MAX_ENTRIES = 10_000;

/**
 * This replica's resolved tokens, so a request costs no session query (issue 10). It is only
 * trusted while the revocation listener (EventHub, channel tillflow_revocations) is connected:
 * every logout, deactivation, PIN or role change and device revocation NOTIFYs the session or
 * device id, which drops it here at once. A lost listener empties the cache and turns it off
 * until it listens again. A token read from the database just as a revocation arrived is not
 * cached (the read might predate the revocation). A revocation made on this replica also drops
 * its tokens here before the request answers: the notice reaches this replica's own listener a
 * moment later, and a client's next request may come first.
 */
export class SessionCache {
  private readonly byToken = new Map<string, AuthContext>();
  /** Bumped by every revocation and listener change: a read that saw a bump is not cached. */
  private generation = 0;
  private listening = false;

  get(token: string): AuthContext | undefined {
    if (!this.listening) return undefined;
    const auth = this.byToken.get(token);
    if (auth?.expiresAt && auth.expiresAt.getTime() <= Date.now()) {
      this.byToken.delete(token);
      return undefined;
    }
    return auth;
  }

  /** Call before reading the session; hand the result to `put`. */
  begin(): number {
    return this.generation;
  }

  put(token: string, auth: AuthContext, readAt: number): void {
    if (!this.listening || readAt !== this.generation) return;
    if (this.byToken.size >= MAX_ENTRIES) this.byToken.clear();
    this.byToken.set(token, auth);
  }

  /** A session or device was revoked (on any replica). */
  revoked(sessionId: string): void {
    this.dropWhere((auth) => auth.sessionId === sessionId);
  }

  /**
   * This replica has just revoked what `ends` picks (a staff member's sessions, a location's):
   * dropped at once, so the next request here sees it, without waiting for the listener's notice.
   */
  dropWhere(ends: (auth: AuthContext) => boolean): void {
    this.generation += 1;
    for (const [token, auth] of this.byToken) if (ends(auth)) this.byToken.delete(token);
  }

  /** The revocation listener connected or was lost: notices may have been missed either way. */
  setListening(listening: boolean): void {
    this.generation += 1;
    this.byToken.clear();
    this.listening = listening;
  }
}
