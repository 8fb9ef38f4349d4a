// API tokens: created with scopes and an optional expiry, stored hashed, revocable, and
// stamped with their last use.
import type { TScope } from "@postern/contracts";
import type { ApiToken } from "@postern/db";
import { badField, forbidden, notFound } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import { runChange, type Origin } from "../../lib/run-change";
import { userInclude, type UserWithGroups } from "../users/users.presenter";
import { generateToken, prefixOf, secretMatches } from "./tokens.secret";
import { presentToken, scopesOf } from "./tokens.presenter";

/** The scopes a user of this role holds and so may put on a token: a token never exceeds its owner. */
export function grantableScopes(role: string): TScope[] {
  return role === "admin"
    ? ["sessions:read", "sessions:write", "relay:send", "agent", "tunnel:manage", "admin"]
    : ["sessions:read", "sessions:write", "relay:send"];
}

/** Fails with 403 naming the first scope the owner does not hold. */
export function assertGrantable(role: string, scopes: TScope[]): void {
  const allowed = grantableScopes(role);
  const extra = scopes.filter((s) => !allowed.includes(s));
  if (extra.length > 0) throw forbidden(`a ${role} cannot grant the scope ${extra.join(", ")}`);
}

/** Personal tokens of one user, or every token (admins), newest first. */
export function findApiTokens(ctx: DbContext, userId: string | null): Promise<ApiToken[]> {
  return ctx.db.apiToken.findMany({ where: userId ? { userId } : {}, orderBy: { createdAt: "desc" } });
}

export interface CreateTokenInput {
  name: string;
  scopes: TScope[];
  expiresAt?: Date;
  /** The owner; null for a service token. */
  userId: string | null;
}

export async function createApiToken(
  ctx: DbContext,
  origin: Origin,
  input: CreateTokenInput,
): Promise<{ row: ApiToken; token: string }> {
  if (input.expiresAt && input.expiresAt <= ctx.now()) throw badField("body.expiresAt", "must be in the future");
  const { token, prefix, secretHash } = generateToken();
  const row = await runChange(ctx, origin, async (tx, record) => {
    const created = await tx.apiToken.create({
      data: {
        name: input.name,
        prefix,
        secretHash,
        scopes: [...new Set(input.scopes)].join(" "),
        userId: input.userId,
        expiresAt: input.expiresAt,
      },
    });
    record({ type: "token.created", token: presentToken(created) });
    return created;
  });
  return { row, token };
}

export async function revokeApiToken(ctx: DbContext, origin: Origin, id: string, asAdmin: boolean): Promise<ApiToken> {
  return runChange(ctx, origin, async (tx, record) => {
    const token = await tx.apiToken.findUnique({ where: { id } });
    if (!token) throw notFound("token");
    if (!asAdmin && token.userId !== origin.actor?.id) throw forbidden("you may revoke only your own tokens");
    if (token.revokedAt) return token;
    const revoked = await tx.apiToken.update({ where: { id }, data: { revokedAt: ctx.now() } });
    record({ type: "token.revoked", token: presentToken(revoked) });
    return revoked;
  });
}

export interface TokenPrincipal {
  token: ApiToken;
  scopes: TScope[];
  /** The owner, or for a service token null. */
  user: UserWithGroups | null;
}

/** A stored token and its owner, by the lookup prefix of a presented secret (not yet checked). */
export type StoredToken = ApiToken & { user: UserWithGroups | null };

export async function findTokenByPrefix(ctx: DbContext, prefix: string): Promise<StoredToken | null> {
  return ctx.db.apiToken.findUnique({ where: { prefix }, include: { user: { include: userInclude } } });
}

/** A stored token's hash and scopes decoded once while the principal cache holds it, not at
 * every request that presents it. */
const decoded = new WeakMap<StoredToken, { hash: Buffer; scopes: TScope[] }>();
function decodedOf(stored: StoredToken): { hash: Buffer; scopes: TScope[] } {
  let found = decoded.get(stored);
  if (!found) decoded.set(stored, (found = { hash: Buffer.from(stored.secretHash, "hex"), scopes: scopesOf(stored.scopes) }));
  return found;
}

/**
 * The principal behind a presented secret when it matches the stored token, which is unrevoked,
 * unexpired, whose owner is enabled, and whose scopes the owner's role *now* grants (a demoted
 * admin's admin and agent tokens stop working at once; the demotion also revokes them). Null
 * otherwise. Pure: the caller may hold the stored token in a cache.
 */
export function checkToken(stored: StoredToken, presented: string, now: Date): TokenPrincipal | null {
  const { hash, scopes } = decodedOf(stored);
  if (!secretMatches(presented, hash)) return null;
  if (stored.revokedAt || (stored.expiresAt && stored.expiresAt <= now)) return null;
  const owner = stored.user;
  if (owner?.disabled) return null;
  if (owner && scopes.some((s) => !grantableScopes(owner.role).includes(s))) return null;
  const { user, ...token } = stored;
  return { token, scopes, user };
}

/** The lookup prefix of a presented token, or null when it is not shaped like one. */
export { prefixOf };
