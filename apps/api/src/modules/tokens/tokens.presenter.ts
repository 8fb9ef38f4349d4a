import { ZScope, type TScope, type TToken } from "@postern/contracts";
import type { ApiToken } from "@postern/db";

export function scopesOf(stored: string): TScope[] {
  return stored.split(" ").filter((s): s is TScope => ZScope.safeParse(s).success);
}

/** What a token's listing shows: everything but the secret's hash. */
export type ListedToken = Omit<ApiToken, "secretHash">;

export function presentToken(t: ListedToken): TToken {
  return {
    id: t.id,
    name: t.name,
    prefix: `pst_${t.prefix}`,
    scopes: scopesOf(t.scopes),
    createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt?.toISOString(),
    lastUsedAt: t.lastUsedAt?.toISOString(),
    lastUsedIp: t.lastUsedIp ?? undefined,
    userId: t.userId ?? undefined,
    revokedAt: t.revokedAt?.toISOString(),
  };
}
