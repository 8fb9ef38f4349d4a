// Users: creation, updates, disabling. Each change writes its audit event in its transaction.
import type { TCreateUserBody, TUpdateUserBody } from "@postern/contracts";
import type { Tx } from "@postern/db";
import { AppError, badField, notFound } from "../../errors";
import { hashPassword } from "../auth/password";
import { writeAudit, type Actor } from "../audit/audit.service";
import { inTransaction, type DbContext } from "../../lib/db-context";
import { userInclude, type UserWithGroups } from "./users.presenter";
import { OPEN_STATUSES } from "../sessions/sessions.schedule";

export interface Caller {
  actor: Actor | null;
  sourceIp?: string;
}

export function findUsers(ctx: DbContext): Promise<UserWithGroups[]> {
  return ctx.db.user.findMany({ include: userInclude, orderBy: { username: "asc" } });
}

export function findUserByUsername(ctx: DbContext, username: string): Promise<UserWithGroups | null> {
  return ctx.db.user.findUnique({ where: { username }, include: userInclude });
}

/** Fails with a 400 naming `field` when any of the ids is not a group. */
export async function assertGroupsExist(tx: Tx, groupIds: string[], field: string): Promise<void> {
  if (groupIds.length === 0) return;
  const found = await tx.group.findMany({ where: { id: { in: groupIds } }, select: { id: true } });
  const missing = groupIds.filter((id) => !found.some((g) => g.id === id));
  if (missing.length > 0) throw badField(field, `unknown group id ${missing.join(", ")}`);
}

export async function createUser(ctx: DbContext, caller: Caller, input: TCreateUserBody): Promise<UserWithGroups> {
  const passwordHash = input.password ? await hashPassword(input.password) : null;
  return inTransaction(ctx, async (tx) => {
    if (await tx.user.findUnique({ where: { username: input.username }, select: { id: true } })) {
      throw new AppError("conflict", `username "${input.username}" is already taken`);
    }
    const groupIds = [...new Set(input.groupIds ?? [])];
    await assertGroupsExist(tx, groupIds, "body.groupIds");
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
    await writeAudit(ctx, tx, {
      actor: caller.actor,
      action: "user.created",
      target: `user:${user.id}`,
      sourceIp: caller.sourceIp,
      details: { username: user.username, role: user.role, groupIds },
    });
    return user;
  });
}

/** Ends every open access session and login of a user; used when the user is disabled. */
export async function revokeUserAccess(ctx: DbContext, tx: Tx, caller: Caller, userId: string): Promise<string[]> {
  const now = ctx.now();
  const open = await tx.accessSession.findMany({
    // Places in a waitlist and open offers too: the scheduler then offers the service to the next.
    where: { userId, status: { in: [...OPEN_STATUSES] } },
    select: { id: true, serviceId: true },
  });
  for (const s of open) {
    await tx.accessSession.update({
      where: { id: s.id },
      data: { status: "ended", endedAt: now, endedById: caller.actor?.id ?? null },
    });
    await writeAudit(ctx, tx, {
      actor: caller.actor,
      action: "session.ended",
      target: `session:${s.id}`,
      serviceId: s.serviceId,
      sessionId: s.id,
      sourceIp: caller.sourceIp,
      details: { cause: "user disabled" },
    });
  }
  await tx.loginSession.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: now } });
  await tx.apiToken.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: now } });
  return open.map((s) => s.id);
}

export async function updateUser(
  ctx: DbContext,
  caller: Caller,
  id: string,
  input: TUpdateUserBody,
): Promise<UserWithGroups> {
  const passwordHash = input.password ? await hashPassword(input.password) : undefined;
  return inTransaction(ctx, async (tx) => {
    const before = await tx.user.findUnique({ where: { id } });
    if (!before) throw notFound("user");
    if (caller.actor?.id === id && (input.disabled === true || input.role === "member") && before.role === "admin") {
      throw badField(input.disabled ? "body.disabled" : "body.role", "you cannot disable or demote yourself");
    }
    if (input.groupIds) {
      const groupIds = [...new Set(input.groupIds)];
      await assertGroupsExist(tx, groupIds, "body.groupIds");
      await tx.groupMember.deleteMany({ where: { userId: id } });
      await tx.groupMember.createMany({ data: groupIds.map((groupId) => ({ groupId, userId: id })) });
    }
    const user = await tx.user.update({
      where: { id },
      data: {
        email: input.email,
        displayName: input.displayName,
        role: input.role,
        disabled: input.disabled,
        passwordHash,
      },
      include: userInclude,
    });
    const changed = Object.keys(input).filter((k) => k !== "password");
    const details: Record<string, unknown> = { username: user.username, changed };
    if (input.password) details.passwordChanged = true;
    let action = "user.updated";
    if (input.disabled === true && !before.disabled) {
      action = "user.disabled";
      details.endedSessions = await revokeUserAccess(ctx, tx, caller, id);
    } else if (input.disabled === false && before.disabled) {
      action = "user.enabled";
    }
    await writeAudit(ctx, tx, { actor: caller.actor, action, target: `user:${id}`, sourceIp: caller.sourceIp, details });
    return user;
  });
}
