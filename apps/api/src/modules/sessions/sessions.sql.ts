// The rows the session hot paths (start, extend, end, the conflict checks) read and write, in
// plain SQL (see @postern/db sql.ts): the same shapes Prisma returns, so the presenters and the
// rest of the module do not know the difference.
import type { AccessSession, Service, SqlRunner, SqlValue } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import type { SessionRow } from "./sessions.presenter";

const SESSION_COLUMNS = [
  "id",
  "serviceId",
  "userId",
  "status",
  "reason",
  "sourceIp",
  "durationSeconds",
  "requestedAt",
  "startsAt",
  "startedAt",
  "expiresAt",
  "endedAt",
  "endedById",
  "decidedById",
  "decidedAt",
  "offerExpiresAt",
] as const satisfies readonly (keyof AccessSession)[];

const sessionSelect = `${SESSION_COLUMNS.map((c) => `s."${c}"`).join(", ")},
  u."username" AS "u_username", u."displayName" AS "u_displayName", e."username" AS "e_username"`;

type SessionJoinRow = AccessSession & { u_username: string; u_displayName: string | null; e_username: string | null };

function sessionRowOf(r: SessionJoinRow): SessionRow {
  const { u_username, u_displayName, e_username, ...session } = r;
  return {
    ...session,
    user: { id: session.userId, username: u_username, displayName: u_displayName },
    endedBy: session.endedById && e_username ? { id: session.endedById, username: e_username } : null,
  };
}

/** A session with what its presenter needs (holder, who ended it). */
export async function selectSession(sql: SqlRunner, id: string): Promise<SessionRow | undefined> {
  const row = await sql.get<SessionJoinRow>(
    `SELECT ${sessionSelect} FROM "AccessSession" s JOIN "User" u ON u."id" = s."userId" LEFT JOIN "User" e ON e."id" = s."endedById" WHERE s."id" = ?`,
    [id],
  );
  return row && sessionRowOf(row);
}

/** Inserts a new session (its id made here) and returns it as presented rows are. */
export async function insertSession(
  sql: SqlRunner,
  data: Omit<AccessSession, "id" | "endedAt" | "endedById" | "decidedById" | "decidedAt" | "offerExpiresAt">,
  id: string,
): Promise<void> {
  const row: Partial<AccessSession> = { ...data, id };
  const columns = Object.keys(row) as (keyof AccessSession)[];
  await sql.run(
    `INSERT INTO "AccessSession" (${columns.map((c) => `"${c}"`).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
    columns.map((c) => (row[c] ?? null) as SqlValue),
  );
}

/** Sets the given columns of one session; resolves with how many rows changed (0 or 1). */
export async function updateSession(
  sql: SqlRunner,
  id: string,
  data: Partial<Pick<AccessSession, "status" | "expiresAt" | "durationSeconds" | "endedAt" | "endedById">>,
  whereStatus?: readonly string[],
): Promise<number> {
  const columns = Object.keys(data) as (keyof typeof data)[];
  const statusFilter = whereStatus ? ` AND "status" IN (${whereStatus.map(() => "?").join(", ")})` : "";
  return sql.run(
    `UPDATE "AccessSession" SET ${columns.map((c) => `"${c}" = ?`).join(", ")} WHERE "id" = ?${statusFilter}`,
    [...columns.map((c) => (data[c] ?? null) as SqlValue), id, ...(whereStatus ?? [])],
  );
}

export type ServiceRules = Pick<Service, "id" | "slug" | "exclusive" | "requiresApproval" | "defaultDurationSeconds" | "maxDurationSeconds">;

/** A service's rules for sessions and its groups (who may see it). */
export async function selectServiceRules(sql: SqlRunner, id: string): Promise<(ServiceRules & { groupIds: string[] }) | undefined> {
  const service = await sql.get<ServiceRules>(
    `SELECT "id", "slug", "exclusive", "requiresApproval", "defaultDurationSeconds", "maxDurationSeconds" FROM "Service" WHERE "id" = ?`,
    [id],
  );
  if (!service) return undefined;
  const groups = await sql.all<{ groupId: string }>(`SELECT "groupId" FROM "ServiceGroup" WHERE "serviceId" = ?`, [id]);
  return { ...service, groupIds: groups.map((g) => g.groupId) };
}

/** Serialises writers on one row across API instances: PostgreSQL takes a row lock; SQLite
 * needs nothing because its transactions already run one at a time. */
export async function lockRowSql(ctx: DbContext, sql: SqlRunner, table: "Service" | "AccessSession", id: string): Promise<void> {
  if (ctx.provider === "postgres") await sql.all(`SELECT 1 FROM "${table}" WHERE "id" = ? FOR UPDATE`, [id]);
}
