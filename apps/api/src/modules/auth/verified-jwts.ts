// Remembers which signed cookies and bearers already verified, so a client's every request does
// not pay for the HMAC and the JSON decode again. Safe because a given token string's signature
// and claims never change; its expiry is checked on every use, and revocation is decided by the
// login session behind it (see principal-cache.ts), never by this cache.
//
// It remembers refusals too. A browser keeps sending a login cookie after it expired, or one
// signed before the install's secret changed, on every request until someone logs in again;
// failing to verify costs 3 to 6 times a success (the library builds an error, with a stack,
// on every failure), and made such a refused request cost 4 times a cached read. A refusal is
// as lasting as a success: time only ever turns a valid token into an expired one, and Postern
// signs no token that becomes valid later (no `nbf`).

interface Entry<T> {
  claims: T;
  /** Milliseconds since the epoch (the JWT's own `exp`), or Infinity without one. */
  expiresAt: number;
}

export class VerifiedJwts<T extends { exp?: number }> {
  private readonly entries = new Map<string, Entry<T>>();
  /** Tokens that failed to verify. */
  private readonly refused = new Set<string>();

  constructor(
    private readonly verify: (token: string) => T,
    private readonly maxEntries = 10_000,
  ) {}

  /** The token's claims, or undefined for a token that does not verify (forged, malformed,
   * expired). Nothing is thrown: a stale cookie is an everyday answer, not an exception. */
  claims(token: string, now = Date.now()): T | undefined {
    const hit = this.entries.get(token);
    if (hit && hit.expiresAt > now) return hit.claims;
    if (hit) this.entries.delete(token);
    if (this.refused.has(token)) return undefined;
    const claims = this.verified(token);
    if (claims === undefined) {
      // The same crude bound: a flood of distinct forgeries costs one verification each, as
      // before, and never more memory than this.
      if (this.refused.size >= this.maxEntries) this.refused.clear();
      this.refused.add(token);
      return undefined;
    }
    // A crude bound: clients keep their tokens for hours, so starting over now and then costs
    // one verification per active client, not per request.
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(token, { claims, expiresAt: claims.exp === undefined ? Infinity : claims.exp * 1000 });
    return claims;
  }

  /** `verify`, or undefined where it throws. The library's error would say no more than that,
   * and capturing its stack was half the cost of a refusal: none is captured. */
  private verified(token: string): T | undefined {
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return this.verify(token);
    } catch {
      return undefined;
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  }
}
