// Groups and their members. A service is visible only to members of its allowed groups, so
// removing a member, or deleting a group, ends the sessions it granted (revocation.ts).
import { AppError, notFound } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import { runChange, type Origin } from "../../lib/run-change";
import { revokeLostAccess } from "../sessions/revocation";
import { groupInclude, type GroupWithMembers } from "./users.presenter";

export function findGroupByName(ctx: DbContext, name: string) {
  return ctx.db.group.findUnique({ where: { name }, select: { id: true, name: true } });
}

export async function createGroup(ctx: DbContext, origin: Origin, name: string): Promise<GroupWithMembers> {
  return runChange(ctx, origin, async (tx, record) => {
    if (await tx.group.findUnique({ where: { name }, select: { id: true } })) {
      throw new AppError("conflict", `group "${name}" already exists`);
    }
    const group = await tx.group.create({ data: { name }, include: groupInclude });
    record({ type: "group.created", group: { id: group.id, name } });
    return group;
  });
}

export async function renameGroup(ctx: DbContext, origin: Origin, id: string, name: string): Promise<GroupWithMembers> {
  return runChange(ctx, origin, async (tx, record) => {
    const group = await tx.group.findUnique({ where: { id } });
    if (!group) throw notFound("group");
    if (group.name === name) return tx.group.findUniqueOrThrow({ where: { id }, include: groupInclude });
    const other = await tx.group.findUnique({ where: { name }, select: { id: true } });
    if (other) throw new AppError("conflict", `group "${name}" already exists`);
    const renamed = await tx.group.update({ where: { id }, data: { name }, include: groupInclude });
    record({ type: "group.renamed", group: { id, name }, previousName: group.name });
    return renamed;
  });
}

/** Deletes a group; members who saw a service only through it lose their sessions on it. */
export async function deleteGroup(ctx: DbContext, origin: Origin, id: string): Promise<void> {
  await runChange(ctx, origin, async (tx, record) => {
    const group = await tx.group.findUnique({
      where: { id },
      include: { members: { select: { userId: true } }, services: { select: { serviceId: true } } },
    });
    if (!group) throw notFound("group");
    await tx.group.delete({ where: { id } });
    record({ type: "group.deleted", group: { id, name: group.name } });
    await revokeLostAccess(
      ctx,
      tx,
      record,
      { userIds: group.members.map((m) => m.userId), serviceIds: group.services.map((s) => s.serviceId) },
      "group_deleted",
      origin.actor,
    );
  });
}

export async function setGroupMember(
  ctx: DbContext,
  origin: Origin,
  groupId: string,
  userId: string,
  member: boolean,
): Promise<GroupWithMembers> {
  return runChange(ctx, origin, async (tx, record) => {
    const group = await tx.group.findUnique({ where: { id: groupId }, select: { id: true, name: true } });
    if (!group) throw notFound("group");
    const user = await tx.user.findUnique({ where: { id: userId }, select: { id: true, username: true } });
    if (!user) throw notFound("user");
    const key = { groupId_userId: { groupId, userId } };
    const existing = await tx.groupMember.findUnique({ where: key });
    if (member && !existing) {
      await tx.groupMember.create({ data: { groupId, userId } });
      record({ type: "group.member_added", group, user });
    }
    if (!member && existing) {
      await tx.groupMember.delete({ where: key });
      record({ type: "group.member_removed", group, user });
      await revokeLostAccess(ctx, tx, record, { userIds: [userId] }, "member_removed", origin.actor);
    }
    return tx.group.findUniqueOrThrow({ where: { id: groupId }, include: groupInclude });
  });
}
