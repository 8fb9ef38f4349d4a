// Remembers which signed cookies and bearers already verified, so a client's every request does
// not pay for the HMAC and the JSON decode again. Safe because a given token string's signature
// and claims never change; its expiry is checked on every use, and revocation is decided by the
// login session behind it (see principal-cache.ts), never by this cache.

interface Entry<T> {
  claims: T;
  /** Milliseconds since the epoch (the JWT's own `exp`), or Infinity without one. */
  expiresAt: number;
}

export class VerifiedJwts<T extends { exp?: number }> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly verify: (token: string) => T,
    private readonly maxEntries = 10_000,
  ) {}

  /** The token's claims; throws as `verify` does for a bad or expired token. */
  claims(token: string, now = Date.now()): T {
    const hit = this.entries.get(token);
    if (hit && hit.expiresAt > now) return hit.claims;
    if (hit) this.entries.delete(token);
    const claims = this.verify(token);
    // A crude bound: clients keep their tokens for hours, so starting over now and then costs
    // one verification per active client, not per request.
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(token, { claims, expiresAt: claims.exp === undefined ? Infinity : claims.exp * 1000 });
    return claims;
  }
}
