import type { TGroup, TUser } from "@postern/contracts";
import type { Group, GroupMember, User } from "@postern/db";

/** The Prisma include that loads what `presentUser` needs. */
export const userInclude = { memberships: { include: { group: true }, orderBy: { group: { name: "asc" } } } } as const;
export type UserWithGroups = User & { memberships: (GroupMember & { group: Group })[] };

export function presentUser(u: UserWithGroups): TUser {
  return {
    id: u.id,
    username: u.username,
    email: u.email ?? undefined,
    displayName: u.displayName ?? undefined,
    role: u.role === "admin" ? "admin" : "member",
    disabled: u.disabled,
    groups: u.memberships.map((m) => ({ id: m.group.id, name: m.group.name })),
  };
}

export const groupInclude = {
  members: { include: { user: { include: userInclude } }, orderBy: { user: { username: "asc" } } },
} as const;
export type GroupWithMembers = Group & { members: (GroupMember & { user: UserWithGroups })[] };

export function presentGroup(g: GroupWithMembers): TGroup {
  return { id: g.id, name: g.name, members: g.members.map((m) => presentUser(m.user)) };
}
