// What the principal cache loads on a miss, in plain SQL (@postern/db sql.ts): a login session or
// a token with its user and the user's groups. Through Prisma these were one query with nested
// includes, which Prisma runs as several, each through its query compiler and interpreter: about
// 15 ms for the first request after a quiet spell, when every user's cached login has expired.
// Here: two statements sent together, the row and the memberships.
import type { ApiToken, Group, GroupMember, SqlRunner, User } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import type { UserWithGroups } from "../users/users.presenter";

const USER_FIELDS = ["id", "username", "email", "displayName", "passwordHash", "role", "disabled", "createdAt", "updatedAt"] as const;
/** The user's columns, named `user.<field>` beside the login's or the token's own. */
const USER_COLUMNS = USER_FIELDS.map((f) => `u."${f}" AS "user.${f}"`).join(", ");
type UserColumns = { [K in (typeof USER_FIELDS)[number] as `user.${K}`]: User[K] };

function userOfRow(row: UserColumns): User {
  const user = {} as Record<string, unknown>;
  for (const f of USER_FIELDS) user[f] = row[`user.${f}`];
  return user as unknown as User;
}

interface MembershipRow {
  groupId: string;
  userId: string;
  createdAt: Date;
  groupName: string;
  groupCreatedAt: Date;
}

/** The memberships of the user `userOf` selects (a subquery on the same key), as Prisma's
 * `userInclude` gives them: with their group, by group name. */
function membershipsOf(sql: SqlRunner, userOf: string, key: string): Promise<MembershipRow[]> {
  return sql.all<MembershipRow>(
    `SELECT m."groupId", m."userId", m."createdAt", g."name" AS "groupName", g."createdAt" AS "groupCreatedAt"
       FROM "GroupMember" m JOIN "Group" g ON g."id" = m."groupId"
      WHERE m."userId" = (${userOf})
      ORDER BY g."name"`,
    [key],
  );
}

function withGroups(user: User, rows: MembershipRow[]): UserWithGroups {
  const memberships = rows.map(({ groupId, userId, createdAt, groupName, groupCreatedAt }): GroupMember & { group: Group } => ({
    groupId,
    userId,
    createdAt,
    group: { id: groupId, name: groupName, createdAt: groupCreatedAt },
  }));
  return { ...user, memberships };
}

/** A login session's expiry and revocation, and its user with groups; undefined when there is no
 * such session. */
export async function loadLogin(ctx: DbContext, id: string): Promise<{ expiresAt: Date; revokedAt: Date | null; user: UserWithGroups } | undefined> {
  return ctx.sql.read(async (sql) => {
    const [row, groups] = await Promise.all([
      sql.get<UserColumns & { expiresAt: Date; revokedAt: Date | null }>(
        `SELECT l."expiresAt", l."revokedAt", ${USER_COLUMNS}
           FROM "LoginSession" l JOIN "User" u ON u."id" = l."userId"
          WHERE l."id" = ?`,
        [id],
      ),
      membershipsOf(sql, `SELECT "userId" FROM "LoginSession" WHERE "id" = ?`, id),
    ]);
    if (!row) return undefined;
    return { expiresAt: row.expiresAt, revokedAt: row.revokedAt, user: withGroups(userOfRow(row), groups) };
  });
}

/** The token with this lookup prefix and its owner with groups (null for a service token). */
export async function loadToken(ctx: DbContext, prefix: string): Promise<(ApiToken & { user: UserWithGroups | null }) | null> {
  return ctx.sql.read(async (sql) => {
    const [row, groups] = await Promise.all([
      sql.get<ApiToken & UserColumns>(
        `SELECT t."id", t."name", t."prefix", t."secretHash", t."scopes", t."userId", t."createdAt", t."expiresAt", t."revokedAt",
                t."lastUsedAt", t."lastUsedIp", t."mintedById", ${USER_COLUMNS}
           FROM "ApiToken" t LEFT JOIN "User" u ON u."id" = t."userId"
          WHERE t."prefix" = ?`,
        [prefix],
      ),
      membershipsOf(sql, `SELECT "userId" FROM "ApiToken" WHERE "prefix" = ?`, prefix),
    ]);
    if (!row) return null;
    const { id, name, secretHash, scopes, userId, createdAt, expiresAt, revokedAt, lastUsedAt, lastUsedIp, mintedById } = row;
    const token: ApiToken = { id, name, prefix: row.prefix, secretHash, scopes, userId, createdAt, expiresAt, revokedAt, lastUsedAt, lastUsedIp, mintedById };
    return { ...token, user: userId === null ? null : withGroups(userOfRow(row), groups) };
  });
}
