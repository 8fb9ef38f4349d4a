import type { TGroup, TUser } from "@postern/contracts";
import type { Group, GroupMember, User } from "@postern/db";

/** The Prisma include that loads what `presentUser` needs. */
export const userInclude = { memberships: { include: { group: true }, orderBy: { group: { name: "asc" } } } } as const;

/**
 * Prisma reads an include in one statement per relation, and on PostgreSQL each statement sees the
 * database as it is when that statement starts. A group deleted (or a user, for a group's members)
 * between the two statements leaves a membership whose other end is null, whatever Prisma's
 * types say. The deletion has committed: the membership is gone with it, and presenting skips it.
 */
export type UserWithGroups = User & { memberships: (GroupMember & { group: Group | null })[] };

/** What `presentUser` reads of a user: a Prisma row with `userInclude`, or a row of users.sql.ts. */
export type ListedUser = Pick<User, "id" | "username" | "email" | "displayName" | "role" | "disabled"> & {
  memberships: { group: Pick<Group, "id" | "name"> | null }[];
};

/** The groups a membership list still names (see `UserWithGroups` on the null ones). */
export function groupsOf(memberships: ListedUser["memberships"]): Pick<Group, "id" | "name">[] {
  return memberships.flatMap((m) => (m.group ? [{ id: m.group.id, name: m.group.name }] : []));
}

export function presentUser(u: ListedUser): TUser {
  return {
    id: u.id,
    username: u.username,
    email: u.email ?? undefined,
    displayName: u.displayName ?? undefined,
    role: u.role === "admin" ? "admin" : "member",
    disabled: u.disabled,
    groups: groupsOf(u.memberships),
  };
}

export const groupInclude = {
  members: { include: { user: { include: userInclude } }, orderBy: { user: { username: "asc" } } },
} as const;
/** A member whose user was deleted between the include's statements has a null user (see above). */
export type GroupWithMembers = Group & { members: (GroupMember & { user: UserWithGroups | null })[] };

/** What `presentGroup` reads of a group. */
export type ListedGroup = Pick<Group, "id" | "name"> & { members: { user: ListedUser | null }[] };

export function presentGroup(g: ListedGroup): TGroup {
  return { id: g.id, name: g.name, members: g.members.flatMap((m) => (m.user ? [presentUser(m.user)] : [])) };
}
