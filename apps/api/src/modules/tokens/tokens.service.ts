// API tokens: created with scopes and an optional expiry, stored hashed, revocable, and
// stamped with their last use.
import { timingSafeEqual } from "node:crypto";
import type { TScope } from "@postern/contracts";
import type { ApiToken, Tx } from "@postern/db";
import { badField, forbidden, notFound, unauthorized } from "../../errors";
import { lockRow, type DbContext } from "../../lib/db-context";
import { runChange, type Origin, type RecordEvent } from "../../lib/run-change";
import { heldUser } from "../users/users.held";
import type { UserWithGroups } from "../users/users.presenter";
import { loadToken } from "../auth/principal-loads";
import { generateToken, prefixOf, secretMatches } from "./tokens.secret";
import { presentToken, scopesOf, type ListedToken } from "./tokens.presenter";

/** Whether a token still stands: not revoked, and not past its expiry. */
export function tokenWorks(token: { revokedAt: Date | null; expiresAt: Date | null }, now: Date): boolean {
  return !token.revokedAt && (!token.expiresAt || token.expiresAt > now);
}

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
export function findApiTokens(ctx: DbContext, userId: string | null): Promise<ListedToken[]> {
  // One plain statement (Prisma's own cost was about a millisecond), without the secrets' hashes.
  const where = userId ? ` WHERE "userId" = ?` : "";
  return ctx.sql.read((sql) =>
    sql.all<ListedToken>(
      `SELECT "id", "name", "prefix", "scopes", "userId", "createdAt", "expiresAt", "revokedAt", "lastUsedAt", "lastUsedIp" FROM "ApiToken"${where} ORDER BY "createdAt" DESC, "id" DESC`,
      userId ? [userId] : [],
    ),
  );
}

export interface CreateTokenInput {
  name: string;
  scopes: TScope[];
  expiresAt?: Date;
  /** The owner; null for a service token. */
  userId: string | null;
  /** The API token asking, when one is: revoking it revokes this one too. */
  mintedById?: string;
}

/**
 * What an API token may create: a token of its own owner that expires no later than itself, so
 * that what a leaked token mints does not outlive it. `requested` is the asked-for expiry; the
 * answer is the one to give (the maker's own when none was asked for).
 */
export function expiryForMintedToken(maker: { expiresAt: Date | null }, requested: Date | undefined): Date | undefined {
  if (!maker.expiresAt) return requested;
  if (!requested) return maker.expiresAt;
  if (requested > maker.expiresAt) {
    throw badField("body.expiresAt", `must be no later than ${maker.expiresAt.toISOString()}, when the API token creating it expires`);
  }
  return requested;
}

export async function createApiToken(
  ctx: DbContext,
  origin: Origin,
  input: CreateTokenInput,
): Promise<{ row: ApiToken; token: string }> {
  if (input.expiresAt && input.expiresAt <= ctx.now()) throw badField("body.expiresAt", "must be in the future");
  const { token, prefix, secretHash } = generateToken();
  const row = await runChange(ctx, origin, async (tx, record) => {
    // The owner's row before the maker's token, the order a disable takes them in (the user, then
    // their tokens): the other order could deadlock with it.
    if (input.userId) await assertOwnerEnabled(ctx, tx, input.userId);
    if (input.mintedById) await assertMakerStillGood(ctx, tx, input.mintedById);
    const created = await tx.apiToken.create({
      data: {
        name: input.name,
        prefix,
        secretHash,
        scopes: [...new Set(input.scopes)].join(" "),
        userId: input.userId,
        expiresAt: input.expiresAt,
        mintedById: input.mintedById,
      },
    });
    record({ type: "token.created", token: presentToken(created) });
    return created;
  });
  return { row, token };
}

/**
 * The maker was good when its request was let in; its revocation may have committed since (on
 * another instance, or before this instance heard of it), and that revocation's sweep of what it
 * made has then run without this token. Held and read again here, the maker is either revoked
 * already (refused) or revoked after this commits (and the sweep finds this token).
 */
async function assertMakerStillGood(ctx: DbContext, tx: Tx, makerId: string): Promise<void> {
  await lockRow(ctx, tx, "ApiToken", makerId);
  const maker = await tx.apiToken.findUnique({ where: { id: makerId }, select: { revokedAt: true, expiresAt: true } });
  if (!maker || !tokenWorks(maker, ctx.now())) {
    throw unauthorized("this API token has been revoked or has expired");
  }
}

/**
 * The owner was enabled when the request was let in; a disable (which revokes their tokens) may
 * have committed since. Held and read again here, the owner is either disabled already (refused)
 * or disabled after this commits, and that disable's revocation finds this token.
 */
async function assertOwnerEnabled(ctx: DbContext, tx: Tx, userId: string): Promise<void> {
  // One deleted meanwhile is the insert's to refuse (its owner is gone: a 409).
  const owner = await heldUser(ctx, tx, userId);
  if (owner?.disabled) throw unauthorized("this account is disabled; ask an admin");
}

export async function revokeApiToken(ctx: DbContext, origin: Origin, id: string, asAdmin: boolean): Promise<ApiToken> {
  return runChange(ctx, origin, async (tx, record) => {
    const token = await tx.apiToken.findUnique({ where: { id } });
    if (!token) throw notFound("token");
    if (!asAdmin && token.userId !== origin.actor?.id) throw forbidden("you may revoke only your own tokens");
    if (token.revokedAt) return token;
    const revoked = await tx.apiToken.update({ where: { id }, data: { revokedAt: ctx.now() } });
    record({ type: "token.revoked", token: presentToken(revoked) });
    await revokeMintedBy(ctx, tx, record, revoked);
    return revoked;
  });
}

/** Revokes what a revoked token created, and what those created, each its own event; answers
 * their ids. */
export async function revokeMintedBy(ctx: DbContext, tx: Tx, record: RecordEvent, maker: ApiToken): Promise<string[]> {
  const revokedIds: string[] = [];
  let makers = new Map([[maker.id, maker]]);
  while (makers.size > 0) {
    const minted = await tx.apiToken.findMany({ where: { mintedById: { in: [...makers.keys()] }, revokedAt: null }, orderBy: { createdAt: "asc" } });
    for (const token of minted) {
      const by = makers.get(token.mintedById!)!;
      const revoked = await tx.apiToken.update({ where: { id: token.id }, data: { revokedAt: ctx.now() } });
      record({ type: "token.revoked", token: presentToken(revoked), cause: `created by the revoked token ${by.name} (pst_${by.prefix})` });
      revokedIds.push(token.id);
    }
    makers = new Map(minted.map((t) => [t.id, t]));
  }
  return revokedIds;
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
  return loadToken(ctx, prefix);
}

/** What a stored token's checks need, worked out once while the principal cache holds it, not at
 * every request that presents it. */
interface Decoded {
  hash: Buffer;
  scopes: TScope[];
  /** The token without its owner, as a principal carries it. */
  token: ApiToken;
  /** Whether the owner's role grants every scope (fixed for this owner row). */
  grantable: boolean;
  /**
   * The secret that matched the hash, once one has. The holder of the prefix has exactly one
   * valid secret, so later requests compare with it in constant time instead of hashing again
   * (a SHA-256 through node:crypto was a tenth of a token-authenticated read). It lives as long
   * as the cached row does; the process sees every presented secret in its requests anyway.
   */
  verified?: Buffer;
}
const decoded = new WeakMap<StoredToken, Decoded>();
function decodedOf(stored: StoredToken): Decoded {
  let found = decoded.get(stored);
  if (!found) {
    const { user, ...token } = stored;
    const scopes = scopesOf(stored.scopes);
    const granted = user ? grantableScopes(user.role) : undefined;
    found = { hash: Buffer.from(stored.secretHash, "hex"), scopes, token, grantable: !granted || scopes.every((s) => granted.includes(s)) };
    decoded.set(stored, found);
  }
  return found;
}

function presentedMatches(d: Decoded, presented: string): boolean {
  const given = Buffer.from(presented);
  if (d.verified) return given.length === d.verified.length && timingSafeEqual(given, d.verified);
  if (!secretMatches(presented, d.hash)) return false;
  d.verified = given;
  return true;
}

/**
 * The principal behind a presented secret when it matches the stored token, which is unrevoked,
 * unexpired, whose owner is enabled, and whose scopes the owner's role *now* grants (a demoted
 * admin's admin and agent tokens stop working at once; the demotion also revokes them). Null
 * otherwise. No I/O, and nothing in `stored` changes (what it learns is kept beside it, in
 * `decoded`): the caller may hold the stored token in a cache.
 */
export function checkToken(stored: StoredToken, presented: string, now: Date): TokenPrincipal | null {
  const d = decodedOf(stored);
  if (!presentedMatches(d, presented)) return null;
  if (!tokenWorks(stored, now)) return null;
  if (stored.user?.disabled || !d.grantable) return null;
  return { token: d.token, scopes: d.scopes, user: stored.user };
}

/** The lookup prefix of a presented token, or null when it is not shaped like one. */
export { prefixOf };
