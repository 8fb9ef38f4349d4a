import type { TGroup, TUser } from "@postern/contracts";
import type { Group, GroupMember, User } from "@postern/db";

/** The Prisma include that loads what `presentUser` needs. */
export const userInclude = { memberships: { include: { group: true }, orderBy: { group: { name: "asc" } } } } as const;
export type UserWithGroups = User & { memberships: (GroupMember & { group: Group })[] };

/** What `presentUser` reads of a user: a Prisma row with `userInclude`, or a row of users.sql.ts. */
export type ListedUser = Pick<User, "id" | "username" | "email" | "displayName" | "role" | "disabled"> & {
  memberships: { group: Pick<Group, "id" | "name"> }[];
};

export function presentUser(u: ListedUser): TUser {
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

/** What `presentGroup` reads of a group. */
export type ListedGroup = Pick<Group, "id" | "name"> & { members: { user: ListedUser }[] };

export function presentGroup(g: ListedGroup): TGroup {
  return { id: g.id, name: g.name, members: g.members.map((m) => presentUser(m.user)) };
}
