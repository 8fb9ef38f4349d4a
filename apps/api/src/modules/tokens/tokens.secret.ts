// API token secrets: `pst_<prefix>_<secret>`. Only a SHA-256 of the whole token is stored; the
// secret has 256 bits of entropy, so a fast hash is enough (no password stretching needed).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const TOKEN_PREFIX = "pst_";

export function generateToken(): { token: string; prefix: string; secretHash: string } {
  const prefix = randomBytes(6).toString("hex");
  const token = `${TOKEN_PREFIX}${prefix}_${randomBytes(32).toString("base64url")}`;
  return { token, prefix, secretHash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** The lookup prefix of a presented token, or null when it is not shaped like one. */
export function prefixOf(token: string): string | null {
  const m = /^pst_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/.exec(token);
  return m?.[1] ?? null;
}

/** `secretHash` as stored (hex), or already decoded by a caller that checks the same token often. */
export function secretMatches(token: string, secretHash: string | Buffer): boolean {
  const a = createHash("sha256").update(token).digest();
  const b = typeof secretHash === "string" ? Buffer.from(secretHash, "hex") : secretHash;
  return a.length === b.length && timingSafeEqual(a, b);
}
