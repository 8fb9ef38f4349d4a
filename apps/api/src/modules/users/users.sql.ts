// The admin pages' lists of users and groups in plain SQL (see @postern/db sql.ts). Prisma's nested
// includes made the groups page five statements (groups, members, their users, the users'
// memberships, those groups) and about 2.7 ms of CPU on a small install; here it is three plain
// statements in one read, the users page two. Same rows, same order (the database's, by name).
import type { SqlRunner } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import type { ListedGroup, ListedUser } from "./users.presenter";

type UserColumns = Omit<ListedUser, "memberships">;

const USER_COLUMNS = `u."id", u."username", u."email", u."displayName", u."role", u."disabled"`;

/** `users` (by username) with their groups (by name) from `memberships`. */
function withMemberships(users: UserColumns[], memberships: { userId: string; id: string; name: string }[]): ListedUser[] {
  const listed = new Map<string, ListedUser>(users.map((u) => [u.id, { ...u, memberships: [] }]));
  // A membership of a user made after the first statement (PostgreSQL reads each afresh) is left out.
  for (const { userId, id, name } of memberships) listed.get(userId)?.memberships.push({ group: { id, name } });
  return [...listed.values()];
}

/** Every user by username, each with their groups by name. */
async function readUsers(sql: SqlRunner): Promise<ListedUser[]> {
  const users = await sql.all<UserColumns>(`SELECT ${USER_COLUMNS} FROM "User" u ORDER BY u."username"`);
  const memberships = await sql.all<{ userId: string; id: string; name: string }>(
    `SELECT m."userId", g."id", g."name" FROM "GroupMember" m JOIN "Group" g ON g."id" = m."groupId" ORDER BY g."name"`,
  );
  return withMemberships(users, memberships);
}

/** `group` with its members by username, each with their groups by name, as `GET /api/groups`
 * shows it: two statements, in the change or read `sql` belongs to. */
export async function readGroupMembers(sql: SqlRunner, group: { id: string; name: string }): Promise<ListedGroup> {
  const users = await sql.all<UserColumns>(
    `SELECT ${USER_COLUMNS} FROM "GroupMember" m JOIN "User" u ON u."id" = m."userId" WHERE m."groupId" = ? ORDER BY u."username"`,
    [group.id],
  );
  const memberships = await sql.all<{ userId: string; id: string; name: string }>(
    `SELECT m."userId", g."id", g."name" FROM "GroupMember" m JOIN "Group" g ON g."id" = m."groupId"
     WHERE m."userId" IN (SELECT "userId" FROM "GroupMember" WHERE "groupId" = ?) ORDER BY g."name"`,
    [group.id],
  );
  return { id: group.id, name: group.name, members: withMemberships(users, memberships).map((user) => ({ user })) };
}

/** Every user, as `GET /api/users` and `postern user list` show them. */
export function listUsers(ctx: DbContext): Promise<ListedUser[]> {
  return ctx.sql.read(readUsers);
}

/** Every group by name, each with its members by username. */
export function listGroups(ctx: DbContext): Promise<ListedGroup[]> {
  return ctx.sql.read(async (sql) => {
    const groups = await sql.all<{ id: string; name: string }>(`SELECT "id", "name" FROM "Group" ORDER BY "name"`);
    const users = await readUsers(sql);
    // Rows made between the statements (PostgreSQL reads each afresh) may name what is not here.
    const members = await sql.all<{ groupId: string; userId: string }>(
      `SELECT m."groupId", m."userId" FROM "GroupMember" m JOIN "User" u ON u."id" = m."userId" ORDER BY u."username"`,
    );
    const listed = new Map<string, ListedGroup>(groups.map((g) => [g.id, { ...g, members: [] }]));
    const userOf = new Map(users.map((u) => [u.id, u]));
    for (const { groupId, userId } of members) {
      const user = userOf.get(userId);
      if (user) listed.get(groupId)?.members.push({ user });
    }
    return [...listed.values()];
  });
}
