// Groups and their members. A service is visible only to members of its allowed groups, so
// removing a member, or deleting a group, ends the sessions it granted (revocation.ts).
import { AppError, notFound } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import { runChange, runSqlChange, type Origin } from "../../lib/run-change";
import { revokeLost, revokeLostAccess } from "../sessions/revocation";
import { heldGroups, holdClause } from "./groups.held";
import { groupInclude, type GroupWithMembers, type ListedGroup } from "./users.presenter";
import { readGroupMembers } from "./users.sql";

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
      [id],
    );
  });
}

/**
 * Adds or removes a member, in plain SQL: the group and the user read under a key-share lock (a
 * deletion of either waits for this change, or has happened and the answer is 404), the
 * membership written, and on a removal the sessions it granted ended (revocation.ts). Adding an
 * existing member or removing a missing one changes and records nothing. The group as it now is.
 */
export async function setGroupMember(
  ctx: DbContext,
  origin: Origin,
  groupId: string,
  userId: string,
  member: boolean,
): Promise<ListedGroup> {
  return runSqlChange(ctx, origin, async (sql, record) => {
    const [group] = await heldGroups(ctx, sql, "id", [groupId]);
    if (!group) throw notFound("group");
    const user = await sql.get<{ id: string; username: string }>(`SELECT "id", "username" FROM "User" WHERE "id" = ?${holdClause(ctx)}`, [userId]);
    if (!user) throw notFound("user");
    if (member) {
      const added = await sql.run(`INSERT INTO "GroupMember" ("groupId", "userId", "createdAt") VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, [
        groupId,
        userId,
        ctx.now(),
      ]);
      if (added > 0) record({ type: "group.member_added", group, user });
    } else {
      const removed = await sql.run(`DELETE FROM "GroupMember" WHERE "groupId" = ? AND "userId" = ?`, [groupId, userId]);
      if (removed > 0) {
        record({ type: "group.member_removed", group, user });
        await revokeLost(ctx, sql, record, { userIds: [userId] }, "member_removed", origin.actor);
      }
    }
    return readGroupMembers(sql, group);
  });
}
