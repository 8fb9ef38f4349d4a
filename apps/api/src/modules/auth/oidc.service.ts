// An OIDC login after the ID token was verified: find the user by issuer and subject, or link by
// a verified e-mail (when the provider allows it), or create them (unless sign-up is off); follow
// the groups claim; open a login session. One transaction, audited.
import type { LoginSession, Tx } from "@postern/db";
import type { JWTPayload } from "jose";
import type { OidcProviderConfig } from "../../config";
import type { DbContext } from "../../lib/db-context";
import { isStorableText } from "@postern/contracts";
import { storableText } from "../../lib/storable-text";
import { runChange } from "../../lib/run-change";
import { revokeLostAccess } from "../sessions/revocation";
import { heldGroups } from "../users/groups.held";
import { presentUser, userInclude, type UserWithGroups } from "../users/users.presenter";
import { heldUser } from "../users/users.held";
import { loginOpening } from "./login-prune";
import { LOGIN_SESSION_SECONDS, type LoginContext } from "./auth.service";

/** Why an OIDC login is refused after a valid ID token; the code goes to `/login?error=`. */
export class OidcLoginRefused extends Error {
  constructor(
    readonly code: "signup_disabled" | "user_disabled" | "email_conflict",
    message: string,
  ) {
    super(message);
  }
}

export interface OidcLoginInput {
  provider: OidcProviderConfig;
  /** The issuer as the provider names it (the verified `iss`). */
  issuer: string;
  claims: JWTPayload;
  idToken: string;
}

/** A string claim, trimmed; absent when empty or when no database could store it as sent. */
function stringClaim(claims: JWTPayload, name: string): string | undefined {
  const v = claims[name];
  return typeof v === "string" && v.trim() && isStorableText(v) ? v.trim() : undefined;
}

/** The longest display name, as an admin may set one (ZUpdateUserBody). */
const DISPLAY_NAME_MAX = 128;
/** C0 and C1 controls (line breaks, tabs, NUL), and the characters that reorder the text shown
 * around them: embeddings, overrides, isolates and direction marks. */
// eslint-disable-next-line no-control-regex
const UNSHOWABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * The display name a new user gets from the provider's `name` claim: at most providers the
 * person's own text, which the board shows to everyone (and admins read when deciding a
 * request). One line, without direction overrides that would make it read as someone else's,
 * and no longer than an admin could set.
 */
export function displayNameFromClaim(claims: JWTPayload): string | undefined {
  const v = claims.name;
  if (typeof v !== "string") return undefined;
  const shown = v.replace(UNSHOWABLE, (c) => (/[\t\n\v\f\r\u0085]/.test(c) ? " " : "")).replace(/\s+/g, " ").trim();
  const clipped = [...shown].slice(0, DISPLAY_NAME_MAX).join("").trim();
  return clipped && isStorableText(clipped) ? clipped : undefined;
}

/**
 * The group names a claim carries: an array of strings, or one string of names separated by
 * commas or spaces. Undefined when the claim is absent, so memberships are left alone.
 */
export function groupsFromClaim(claims: JWTPayload, claim: string): string[] | undefined {
  const v = claims[claim];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return [...new Set(v.filter((g): g is string => typeof g === "string" && g.length > 0))];
  if (typeof v === "string") return [...new Set(v.split(/[,\s]+/).filter(Boolean))];
  return [];
}

/** A free username for a new OIDC user: preferred_username, the e-mail's local part, or provider-subject. */
async function freeUsername(tx: Tx, provider: string, claims: JWTPayload): Promise<string> {
  const email = stringClaim(claims, "email");
  const wanted = stringClaim(claims, "preferred_username") ?? email?.split("@")[0] ?? `${provider}-${claims.sub}`;
  const base = wanted.replace(/[^A-Za-z0-9._@-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 56) || `${provider}-user`;
  for (let n = 1; n < 50; n += 1) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    if (!(await tx.user.findUnique({ where: { username: candidate }, select: { id: true } }))) return candidate;
  }
  return `${base}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Makes the user's memberships follow the groups claim. Only groups that already exist in
 * Postern are joined (names are matched exactly); unknown names are ignored and reported, so a
 * provider cannot create groups, and an admin decides which provider groups mean something here.
 */
async function syncGroups(ctx: DbContext, tx: Tx, userId: string, names: string[]) {
  const groups = await heldGroups(ctx, ctx.sql.within(tx), "name", names);
  const wanted = new Set(groups.map((g) => g.id));
  const current = await tx.groupMember.findMany({ where: { userId }, select: { groupId: true } });
  const have = new Set(current.map((m) => m.groupId));
  const added = [...wanted].filter((id) => !have.has(id));
  const removed = [...have].filter((id) => !wanted.has(id));
  if (removed.length > 0) await tx.groupMember.deleteMany({ where: { userId, groupId: { in: removed } } });
  if (added.length > 0) await tx.groupMember.createMany({ data: added.map((groupId) => ({ groupId, userId })) });
  const known = new Set(groups.map((g) => g.name));
  return { added, removed, ignored: names.filter((n) => !known.has(n)) };
}

async function refuse(ctx: DbContext, input: OidcLoginInput, from: LoginContext, reason: string, user?: { id: string; username: string }) {
  await runChange(ctx, { actor: user ? { ...user, kind: "user" } : null, sourceIp: from.ip }, async (_tx, record) =>
    record({
      type: "user.login_failed",
      username: user?.username ?? `oidc:${input.provider.id}:${String(input.claims.sub)}`,
      userId: user?.id,
      method: "oidc",
      provider: input.provider.id,
      reason,
      email: stringClaim(input.claims, "email"),
    }),
  );
}

/** Records a refused OIDC login (state, code or ID token problems). */
export async function auditOidcFailure(ctx: DbContext, provider: string, reason: string, code: string, from: LoginContext) {
  await runChange(ctx, { actor: null, sourceIp: from.ip }, async (_tx, record) =>
    record({ type: "user.login_failed", method: "oidc", provider, code, reason: reason.slice(0, 300) }),
  );
}

export async function loginOidc(
  ctx: DbContext,
  input: OidcLoginInput,
  from: LoginContext,
): Promise<{ user: UserWithGroups; loginSession: LoginSession }> {
  const { provider, issuer, claims } = input;
  const subject = String(claims.sub);
  const email = stringClaim(claims, "email");
  const emailVerified = claims.email_verified === true || claims.email_verified === "true";

  await loginOpening(ctx);
  const outcome = await runChange(ctx, { actor: null, sourceIp: from.ip }, async (tx, record) => {
    const now = ctx.now();
    const linked: string[] = [];
    let createdUser = false;
    let identity = await tx.identity.findUnique({ where: { issuer_subject: { issuer, subject } } });
    let userId = identity?.userId;

    if (!userId && provider.linkByEmail && email && emailVerified) {
      const matches = await tx.user.findMany({ where: { email: { in: [...new Set([email, email.toLowerCase()])] } }, select: { id: true } });
      const ids = [...new Set(matches.map((m) => m.id))];
      if (ids.length > 1) return { refused: "email_conflict" as const, user: undefined };
      if (ids[0]) {
        userId = ids[0];
        linked.push("verified e-mail");
      }
    }
    if (!userId) {
      if (!provider.allowSignup) return { refused: "signup_disabled" as const, user: undefined };
      const created = await tx.user.create({
        data: {
          username: await freeUsername(tx, provider.id, claims),
          // Only an address the provider vouches for becomes the user's (it may later link other logins).
          email: emailVerified ? (email ?? null) : null,
          displayName: displayNameFromClaim(claims) ?? null,
          role: "member",
        },
      });
      userId = created.id;
      createdUser = true;
    }
    // Checked before anything is written, so a refused login leaves no identity behind.
    // Held against a disable committing meanwhile (heldUser): it either came first and is seen
    // here, or waits and then ends this login with the others.
    const held = await heldUser(ctx, tx, userId);
    if (!held) throw new Error(`user ${userId} vanished inside its own login's transaction`);
    const found = { id: held.id, username: held.username, disabled: held.disabled };
    if (found.disabled) return { refused: "user_disabled" as const, user: found };

    if (!identity) {
      identity = await tx.identity.create({ data: { userId, provider: provider.id, issuer, subject, email } });
    } else if (email && identity.email !== email) {
      await tx.identity.update({ where: { id: identity.id }, data: { email } });
    }

    let groups: Awaited<ReturnType<typeof syncGroups>> | undefined;
    const names = provider.groupsClaim ? groupsFromClaim(claims, provider.groupsClaim) : undefined;
    if (names) groups = await syncGroups(ctx, tx, userId, names);

    const loginSession = await tx.loginSession.create({
      data: {
        userId,
        expiresAt: new Date(now.getTime() + LOGIN_SESSION_SECONDS * 1000),
        ip: from.ip,
        userAgent: storableText(from.userAgent?.slice(0, 256)),
        provider: provider.id,
        idToken: input.idToken,
        lastSeenAt: now,
      },
    });
    const actor = { id: found.id, username: found.username, kind: "user" as const };
    const tag = { id: found.id, username: found.username };
    if (createdUser) {
      const created = await tx.user.findUniqueOrThrow({ where: { id: userId }, include: userInclude });
      record({ type: "user.created", user: presentUser(created), cause: `first login through ${provider.id}` }, { actor });
    }
    for (const via of linked) record({ type: "user.identity_linked", user: tag, provider: provider.id, via }, { actor });
    const changedGroups = groups && (groups.added.length || groups.removed.length || groups.ignored.length) ? groups : undefined;
    record({ type: "user.login", user: tag, method: "oidc", provider: provider.id, groups: changedGroups }, { actor });
    // The groups claim can take a group away: what it granted ends now, as when an admin removes a member.
    if (groups?.removed.length) await revokeLostAccess(ctx, tx, record, { userIds: [userId] }, "member_removed", actor);
    const user = await tx.user.findUniqueOrThrow({ where: { id: userId }, include: userInclude });
    return { refused: undefined, user, loginSession };
  });

  if (outcome.refused) {
    const messages = {
      signup_disabled: `sign-up through ${provider.name} is off and no user is linked to this identity`,
      user_disabled: "this user is disabled",
      email_conflict: "several users have this e-mail address; an admin must link the identity",
    };
    await refuse(ctx, input, from, outcome.refused, outcome.user);
    throw new OidcLoginRefused(outcome.refused, messages[outcome.refused]);
  }
  return { user: outcome.user, loginSession: outcome.loginSession! };
}
