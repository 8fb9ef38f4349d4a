// Users: creation, updates (profile, role, groups, password, disabling), deletion. Each is one
// change that records its events; whatever takes a right away ends what the right allowed in the
// same transaction: sessions (revocation.ts), logins and tokens.
import type { TCreateUserBody, TUpdateUserBody } from "@postern/contracts";
import type { Tx } from "@postern/db";
import { AppError, badField, forbidden, notFound } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import { runChange, type Origin, type RecordEvent } from "../../lib/run-change";
import { hashPassword } from "../auth/password";
import { revokeLostAccess } from "../sessions/revocation";
import { presentToken } from "../tokens/tokens.presenter";
import { grantableScopes, revokeMintedBy } from "../tokens/tokens.service";
import { heldGroups } from "./groups.held";
import { presentUser, userInclude, type UserWithGroups } from "./users.presenter";

export function findUserByUsername(ctx: DbContext, username: string): Promise<UserWithGroups | null> {
  return ctx.db.user.findUnique({ where: { username }, include: userInclude });
}

/** Fails with a 400 naming `field` when any of the ids is not a group; holds the groups until the
 * change commits (groups.held.ts), so that the memberships the change writes next still have them. */
export async function assertGroupsExist(ctx: DbContext, tx: Tx, groupIds: string[], field: string): Promise<void> {
  if (groupIds.length === 0) return;
  const found = await heldGroups(ctx, ctx.sql.within(tx), "id", groupIds);
  const missing = groupIds.filter((id) => !found.some((g) => g.id === id));
  if (missing.length > 0) throw badField(field, `unknown group id ${missing.join(", ")}`);
}

export async function createUser(ctx: DbContext, origin: Origin, input: TCreateUserBody): Promise<UserWithGroups> {
  const passwordHash = input.password ? await hashPassword(input.password) : null;
  return runChange(ctx, origin, async (tx, record) => {
    if (await tx.user.findUnique({ where: { username: input.username }, select: { id: true } })) {
      throw new AppError("conflict", `username "${input.username}" is already taken`);
    }
    const groupIds = [...new Set(input.groupIds ?? [])];
    await assertGroupsExist(ctx, tx, groupIds, "body.groupIds");
    const user = await tx.user.create({
      data: {
        username: input.username,
        passwordHash,
        email: input.email,
        displayName: input.displayName,
        role: input.role ?? "member",
        memberships: { create: groupIds.map((groupId) => ({ groupId })) },
      },
      include: userInclude,
    });
    record({ type: "user.created", user: presentUser(user) });
    return user;
  });
}

/** Ends every login of a user but `keep`; returns how many ended. */
export async function endLogins(ctx: DbContext, tx: Tx, userId: string, keep?: string): Promise<number> {
  const { count } = await tx.loginSession.updateMany({
    where: { userId, revokedAt: null, ...(keep ? { id: { not: keep } } : {}) },
    data: { revokedAt: ctx.now() },
  });
  return count;
}

/** Revokes the user's tokens (all, or those whose scopes the role no longer grants), recording each. */
export async function revokeTokensOf(
  ctx: DbContext,
  tx: Tx,
  record: RecordEvent,
  userId: string,
  cause: string,
  onlyBeyondRole?: string,
): Promise<number> {
  const tokens = await tx.apiToken.findMany({ where: { userId, revokedAt: null } });
  const allowed = onlyBeyondRole ? grantableScopes(onlyBeyondRole) : null;
  const doomed = allowed ? tokens.filter((t) => t.scopes.split(" ").some((s) => !(allowed as string[]).includes(s))) : tokens;
  const now = ctx.now();
  const gone = new Set<string>();
  for (const t of doomed) {
    if (gone.has(t.id)) continue;
    const revoked = await tx.apiToken.update({ where: { id: t.id }, data: { revokedAt: now } });
    record({ type: "token.revoked", token: presentToken(revoked), cause });
    gone.add(t.id);
    // What it created goes with it, as on any revocation (a demotion spares the owner's tokens
    // within the new role, but not those an admin token made).
    for (const id of await revokeMintedBy(ctx, tx, record, revoked)) gone.add(id);
  }
  return gone.size;
}

/** Held by every change that may take an enabled admin away, from its start: two admins demoting
 * (or disabling, or deleting) each other at once would each count the other and leave none.
 * PostgreSQL only; SQLite runs one writer at a time. */
const ADMIN_COUNT_LOCK_KEY = 7307002;
async function holdAdminCount(ctx: DbContext, tx: Tx): Promise<void> {
  if (ctx.provider === "postgres") await tx.$queryRawUnsafe(`SELECT 1 AS "locked" FROM (SELECT pg_advisory_xact_lock(${ADMIN_COUNT_LOCK_KEY})) AS l`);
}

/** Two changes of one user wait for each other (PostgreSQL), or two replacements of the user's
 * groups would merge. NO KEY: a session or login being made for the user does not wait. */
async function holdUser(ctx: DbContext, tx: Tx, id: string): Promise<void> {
  if (ctx.provider === "postgres") await tx.$queryRawUnsafe(`SELECT 1 AS "held" FROM "User" WHERE "id" = $1 FOR NO KEY UPDATE`, id);
}

/** Refuses a change that would leave nobody able to administer Postern. */
async function assertAnotherAdmin(tx: Tx, userId: string, field: string): Promise<void> {
  const others = await tx.user.count({ where: { role: "admin", disabled: false, id: { not: userId } } });
  if (others === 0) throw badField(field, "this is the last enabled admin; make someone else an admin first");
}

export type PasswordSetter = "admin" | "cli";

export async function updateUser(
  ctx: DbContext,
  origin: Origin,
  id: string,
  input: TUpdateUserBody,
  setBy: PasswordSetter = "admin",
  opts: { newEmailRefused?: boolean } = {},
): Promise<UserWithGroups> {
  const passwordHash = input.password ? await hashPassword(input.password) : undefined;
  return runChange(ctx, origin, async (tx, record) => {
    if (input.role === "member" || input.disabled === true) await holdAdminCount(ctx, tx);
    await holdUser(ctx, tx, id);
    const before = await tx.user.findUnique({ where: { id }, include: userInclude });
    if (!before) throw notFound("user");
    if (opts.newEmailRefused && typeof input.email === "string" && input.email !== before.email) {
      throw forbidden("body.email: an API token cannot set an e-mail address while an identity provider links logins by it; an admin signed in can");
    }
    const demoting = before.role === "admin" && input.role === "member";
    const disabling = input.disabled === true && !before.disabled;
    if (origin.actor?.id === id && (disabling || demoting)) {
      throw badField(disabling ? "body.disabled" : "body.role", "you cannot disable or demote yourself");
    }
    if (before.role === "admin" && (demoting || disabling)) await assertAnotherAdmin(tx, id, disabling ? "body.disabled" : "body.role");
    let groupsChanged = false;
    if (input.groupIds) {
      const groupIds = [...new Set(input.groupIds)];
      await assertGroupsExist(ctx, tx, groupIds, "body.groupIds");
      const had = before.memberships.map((m) => m.groupId);
      groupsChanged = had.length !== groupIds.length || had.some((g) => !groupIds.includes(g));
      await tx.groupMember.deleteMany({ where: { userId: id, groupId: { notIn: groupIds } } });
      const added = groupIds.filter((g) => !had.includes(g));
      if (added.length) await tx.groupMember.createMany({ data: added.map((groupId) => ({ groupId, userId: id })) });
    }
    const user = await tx.user.update({
      where: { id },
      data: { email: input.email, displayName: input.displayName, role: input.role, disabled: input.disabled, passwordHash },
      include: userInclude,
    });
    const presented = presentUser(user);
    const changed: string[] = (["email", "displayName", "role"] as const).filter((k) => input[k] !== undefined && input[k] !== before[k]);
    if (groupsChanged) changed.push("groupIds");
    if (changed.length > 0) record({ type: "user.updated", user: presented, changed });
    if (input.disabled === false && before.disabled) record({ type: "user.enabled", user: presented });
    if (passwordHash) {
      const endedLogins = await endLogins(ctx, tx, id);
      const revokedTokens = input.revokeTokens ? await revokeTokensOf(ctx, tx, record, id, "password changed") : 0;
      record({ type: "user.password_changed", user: { id, username: user.username }, by: setBy, endedLogins, revokedTokens });
    }
    if (disabling) {
      await revokeLostAccess(ctx, tx, record, { userIds: [id], all: true }, "user_disabled", origin.actor);
      await endLogins(ctx, tx, id);
      await revokeTokensOf(ctx, tx, record, id, "user disabled");
      record({ type: "user.disabled", userId: id, user: presented, reason: input.reason });
    } else if (demoting) {
      await revokeLostAccess(ctx, tx, record, { userIds: [id] }, "demoted", origin.actor);
      await revokeTokensOf(ctx, tx, record, id, "owner is no longer an admin", "member");
    } else if (groupsChanged) {
      await revokeLostAccess(ctx, tx, record, { userIds: [id] }, "member_removed", origin.actor);
    }
    return user;
  });
}

/** Deletes a user: their open sessions are revoked (and audited) first, then every row of theirs goes. */
export async function deleteUser(ctx: DbContext, origin: Origin, id: string, reason?: string): Promise<void> {
  await runChange(ctx, origin, async (tx, record) => {
    await holdAdminCount(ctx, tx);
    const user = await tx.user.findUnique({ where: { id } });
    if (!user) throw notFound("user");
    if (origin.actor?.id === id) throw new AppError("conflict", "you cannot delete yourself");
    if (user.role === "admin" && !user.disabled) {
      const others = await tx.user.count({ where: { role: "admin", disabled: false, id: { not: id } } });
      if (others === 0) throw new AppError("conflict", "this is the last enabled admin; make someone else an admin first");
    }
    await revokeLostAccess(ctx, tx, record, { userIds: [id], all: true }, "user_deleted", origin.actor);
    await revokeTokensOf(ctx, tx, record, id, "user deleted");
    await tx.user.delete({ where: { id } });
    record({ type: "user.deleted", userId: id, username: user.username, reason });
  });
}
