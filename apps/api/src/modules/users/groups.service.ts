// Groups and their members. A service is visible only to members of its allowed groups.
import { AppError, notFound } from "../../errors";
import { writeAudit } from "../audit/audit.service";
import { inTransaction, type DbContext } from "../../lib/db-context";
import { groupInclude, type GroupWithMembers } from "./users.presenter";
import type { Caller } from "./users.service";

export function findGroups(ctx: DbContext): Promise<GroupWithMembers[]> {
  return ctx.db.group.findMany({ include: groupInclude, orderBy: { name: "asc" } });
}

export async function createGroup(ctx: DbContext, caller: Caller, name: string): Promise<GroupWithMembers> {
  return inTransaction(ctx, async (tx) => {
    if (await tx.group.findUnique({ where: { name }, select: { id: true } })) {
      throw new AppError("conflict", `group "${name}" already exists`);
    }
    const group = await tx.group.create({ data: { name }, include: groupInclude });
    await writeAudit(ctx, tx, {
      actor: caller.actor,
      action: "group.created",
      target: `group:${group.id}`,
      sourceIp: caller.sourceIp,
      details: { name },
    });
    return group;
  });
}

export async function setGroupMember(
  ctx: DbContext,
  caller: Caller,
  groupId: string,
  userId: string,
  member: boolean,
): Promise<GroupWithMembers> {
  return inTransaction(ctx, async (tx) => {
    const group = await tx.group.findUnique({ where: { id: groupId }, select: { name: true } });
    if (!group) throw notFound("group");
    const user = await tx.user.findUnique({ where: { id: userId }, select: { username: true } });
    if (!user) throw notFound("user");
    const key = { groupId_userId: { groupId, userId } };
    const existing = await tx.groupMember.findUnique({ where: key });
    if (member && !existing) await tx.groupMember.create({ data: { groupId, userId } });
    if (!member && existing) await tx.groupMember.delete({ where: key });
    if (member !== Boolean(existing)) {
      await writeAudit(ctx, tx, {
        actor: caller.actor,
        action: member ? "group.member_added" : "group.member_removed",
        target: `group:${groupId}`,
        sourceIp: caller.sourceIp,
        details: { group: group.name, userId, username: user.username },
      });
    }
    return tx.group.findUniqueOrThrow({ where: { id: groupId }, include: groupInclude });
  });
}
