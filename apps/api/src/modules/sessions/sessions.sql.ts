// The rows the session hot paths (start, extend, end, the conflict checks) read and write, in
// plain SQL (see @postern/db sql.ts): the same shapes Prisma returns, so the presenters and the
// rest of the module do not know the difference.
import { OPEN_STATUSES } from "@postern/contracts";
import { newId, type AccessSession, type Service, type SqlRunner, type SqlValue } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import type { SessionRow } from "./sessions.presenter";
import { holderMaySeeSql, inGroupsSql } from "../services/services.visibility";

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

/** The tables `sessionSelect` reads: the session `s`, its holder `u`, who ended it `e`. */
const SESSION_FROM = `FROM "AccessSession" s JOIN "User" u ON u."id" = s."userId" LEFT JOIN "User" e ON e."id" = s."endedById"`;

type SessionJoinRow = AccessSession & { u_username: string; u_displayName: string | null; e_username: string | null };

function sessionRowOf(r: SessionJoinRow): SessionRow {
  const { u_username, u_displayName, e_username, ...session } = r;
  return {
    ...session,
    user: { id: session.userId, username: u_username, displayName: u_displayName },
    endedBy: session.endedById && e_username ? { id: session.endedById, username: e_username } : null,
  };
}

/** A session with what its presenter needs (holder, who ended it); on PostgreSQL with the
 * session's row locked, in the same statement. */
export function lockSession(ctx: DbContext, sql: SqlRunner, id: string): Promise<SessionRow | undefined> {
  return lockSessionWhere(ctx, sql, `s."id" = ?`, [id]);
}

/** The one session `where` (on `s`, the session) picks, locked and presented as `lockSession`'s.
 * On PostgreSQL a row changed while the lock was awaited is judged by `where` again. */
export async function lockSessionWhere(ctx: DbContext, sql: SqlRunner, where: string, params: SqlValue[]): Promise<SessionRow | undefined> {
  const row = await sql.get<SessionJoinRow>(
    `SELECT ${sessionSelect} ${SESSION_FROM} WHERE ${where}${forUpdate(ctx, "s")}`,
    params,
  );
  return row && sessionRowOf(row);
}

/** The sessions `ids` names, as `lockSession` reads one, locked in one statement in id order
 * (PostgreSQL locks the rows as the sort hands them out), so two changes that lock several meet
 * in the same order and wait for each other instead of deadlocking. */
export async function lockSessions(ctx: DbContext, sql: SqlRunner, ids: readonly string[]): Promise<SessionRow[]> {
  if (ids.length === 0) return [];
  const rows = await sql.all<SessionJoinRow>(
    `SELECT ${sessionSelect} ${SESSION_FROM}
     WHERE s."id" IN (${ids.map(() => "?").join(", ")}) ORDER BY s."id" ASC${forUpdate(ctx, "s")}`,
    [...ids],
  );
  return rows.map(sessionRowOf);
}

/** Which sessions a list asks for; `groupIds` null for every service (an admin), else the
 * services in one of those groups. */
export interface SessionListFilter {
  groupIds: readonly string[] | null;
  /** Open sessions only (true), or closed ones only (false). */
  open?: boolean;
  serviceId?: string;
  userId?: string;
}

/**
 * Statuses as a list of literals for `IN`, not parameters. PostgreSQL keeps the plain-SQL runner's
 * statements prepared (prisma/src/sql.ts) and may plan them once without their values; it then
 * took "not one of five unknown statuses" to match almost no session, and joined every ended
 * session to its holder in a nested loop: 0.75 s with 100,000 sessions. Literals let every plan
 * weigh the statuses by the table's own counts. They are constants of the contracts, not input.
 */
export function statusList(statuses: readonly string[]): string {
  return `(${statuses.map((status) => `'${status}'`).join(", ")})`;
}

export const OPEN_STATUS_LIST = statusList(OPEN_STATUSES);

/**
 * `ORDER BY` the request's time, then id (sessions as `s`). `few`: the statement finds a handful of
 * open sessions among thousands, best found through a status index and sorted. SQLite, which plans
 * without statistics here, would rather read them in order off a (…, requestedAt) index, through
 * the whole history, testing each status; its unary + (a no-op on any value) keeps the order from
 * being read off an index. PostgreSQL weighs the two by its statistics and needs no such hint.
 */
export function byRequest(ctx: Pick<DbContext, "provider">, direction: "ASC" | "DESC", few: boolean): string {
  const unindexed = few && ctx.provider === "sqlite" ? "+" : "";
  return ` ORDER BY ${unindexed}s."requestedAt" ${direction}, ${unindexed}s."id" ${direction}`;
}

/** The newest `limit` sessions the filter lets through, newest request first, with what their
 * presenter needs: one plain read of committed state. */
export function listSessions(ctx: DbContext, where: SessionListFilter, limit: number): Promise<SessionRow[]> {
  return ctx.sql.read((sql) => selectSessions(ctx, sql, where, limit));
}

/** `listSessions` on a runner the caller holds (the board reads its services in the same turn);
 * every session the filter lets through when `limit` is null. */
export async function selectSessions(ctx: DbContext, sql: SqlRunner, where: SessionListFilter, limit: number | null): Promise<SessionRow[]> {
  const clauses: string[] = [];
  const params: SqlValue[] = [];
  const among = (values: readonly string[]) => {
    params.push(...values);
    return values.map(() => "?").join(", ");
  };
  if (where.groupIds) {
    if (where.groupIds.length === 0) return [];
    params.push(...where.groupIds);
    clauses.push(inGroupsSql(`s."serviceId"`, where.groupIds));
  }
  if (where.open !== undefined) clauses.push(`s."status" ${where.open ? "IN" : "NOT IN"} ${OPEN_STATUS_LIST}`);
  if (where.serviceId) clauses.push(`s."serviceId" = ${among([where.serviceId])}`);
  if (where.userId) clauses.push(`s."userId" = ${among([where.userId])}`);
  if (limit !== null) params.push(limit);
  const rows = await sql.all<SessionJoinRow>(
    `SELECT ${sessionSelect} ${SESSION_FROM}${clauses.length ? ` WHERE ${clauses.join(" AND ")}` : ""}${byRequest(ctx, "DESC", where.open === true)}${
      limit !== null ? " LIMIT ?" : ""
    }`,
    params,
  );
  return rows.map(sessionRowOf);
}

/** Inserts a new session held by `holder` under a fresh id, and answers it as `lockSession` would
 * read it back. Sent without waiting (`SqlRunner.send`): a failure surfaces at the change's next
 * statement. */
export function insertSession(
  sql: SqlRunner,
  data: Omit<AccessSession, "id" | "endedAt" | "endedById" | "decidedById" | "decidedAt" | "offerExpiresAt">,
  holder: SessionRow["user"],
): SessionRow {
  const inserted = { ...data, id: newId() };
  const columns = Object.keys(inserted) as (keyof typeof inserted)[];
  sql.send(
    `INSERT INTO "AccessSession" (${columns.map((c) => `"${c}"`).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
    columns.map((c) => (inserted[c] ?? null) as SqlValue),
  );
  const user = { id: holder.id, username: holder.username, displayName: holder.displayName };
  return { ...inserted, endedAt: null, endedById: null, decidedById: null, decidedAt: null, offerExpiresAt: null, user, endedBy: null };
}

type SessionChange = Partial<
  Pick<AccessSession, "status" | "expiresAt" | "durationSeconds" | "startedAt" | "endedAt" | "endedById" | "decidedById" | "decidedAt" | "offerExpiresAt">
>;

/** Sets the `data` columns of the sessions `where` (with `whereParams`) picks; sent without waiting
 * (`SqlRunner.send`): a failure surfaces at the change's next statement. */
function sendSessionChange(sql: SqlRunner, data: SessionChange, where: string, whereParams: readonly SqlValue[]): void {
  const columns = Object.keys(data) as (keyof SessionChange)[];
  sql.send(`UPDATE "AccessSession" SET ${columns.map((c) => `"${c}" = ?`).join(", ")} WHERE ${where}`, [
    ...columns.map((c) => (data[c] ?? null) as SqlValue),
    ...whereParams,
  ]);
}

/** Sets the given columns of a session the caller holds locked, without waiting. */
export function updateSession(sql: SqlRunner, id: string, data: SessionChange): void {
  sendSessionChange(sql, data, `"id" = ?`, [id]);
}

/** `updateSession` of several sessions with the same change, in one statement. */
export function updateSessions(sql: SqlRunner, ids: readonly string[], data: SessionChange): void {
  if (ids.length > 0) sendSessionChange(sql, data, `"id" IN (${ids.map(() => "?").join(", ")})`, ids);
}

/** Whether the holder of a session may still see its service (`holderMaySee`), read with the
 * change's other statements. */
export async function holderMaySeeNow(sql: SqlRunner, userId: string, serviceId: string): Promise<boolean> {
  const row = await sql.get(`SELECT 1 AS "ok" FROM "User" u WHERE u."id" = ? AND ${holderMaySeeSql("u", "?")}`, [userId, serviceId]);
  return row !== undefined;
}

export type ServiceRules = Pick<Service, "id" | "slug" | "exclusive" | "requiresApproval" | "defaultDurationSeconds" | "maxDurationSeconds" | "gatewayAgentId">;

/**
 * A service's rules for sessions and its groups (who may see it), with the service's row locked
 * on PostgreSQL: one statement for what was a lock and two reads. The lock serialises writers on
 * one service across API instances; SQLite needs none, its transactions already run one at a time.
 * `of: "session"` finds the service by one of its sessions' id.
 */
export async function lockServiceRules(
  ctx: DbContext,
  sql: SqlRunner,
  id: string,
  of: "service" | "session" = "service",
): Promise<(ServiceRules & { groupIds: string[] }) | undefined> {
  const which = of === "service" ? "?" : `(SELECT "serviceId" FROM "AccessSession" WHERE "id" = ?)`;
  const rows = await sql.all<ServiceRules & { groupId: string | null }>(
    `SELECT s."id", s."slug", s."exclusive", s."requiresApproval", s."defaultDurationSeconds", s."maxDurationSeconds", s."gatewayAgentId", g."groupId"
     FROM "Service" s LEFT JOIN "ServiceGroup" g ON g."serviceId" = s."id" WHERE s."id" = ${which}${forUpdate(ctx, "s")}`,
    [id],
  );
  const first = rows[0];
  if (!first) return undefined;
  const { groupId: _, ...service } = first;
  return { ...service, groupIds: groupIdsOf(rows) };
}

/** A service's groups, read from committed state outside any transaction; undefined when there is
 * no such service. */
export async function committedServiceGroups(ctx: DbContext, id: string): Promise<string[] | undefined> {
  const rows = await ctx.sql.read((sql) =>
    sql.all<{ groupId: string | null }>(`SELECT g."groupId" FROM "Service" s LEFT JOIN "ServiceGroup" g ON g."serviceId" = s."id" WHERE s."id" = ?`, [id]),
  );
  return rows.length === 0 ? undefined : groupIdsOf(rows);
}

/** A session's status, holder and service with the service's groups, read from committed state
 * outside any transaction; undefined when there is no such session. */
export async function committedSession(
  ctx: DbContext,
  id: string,
): Promise<{ status: string; userId: string; serviceId: string; groupIds: string[] } | undefined> {
  const rows = await ctx.sql.read((sql) =>
    sql.all<{ status: string; userId: string; serviceId: string; groupId: string | null }>(
      `SELECT a."status", a."userId", a."serviceId", g."groupId" FROM "AccessSession" a LEFT JOIN "ServiceGroup" g ON g."serviceId" = a."serviceId" WHERE a."id" = ?`,
      [id],
    ),
  );
  const first = rows[0];
  return first && { status: first.status, userId: first.userId, serviceId: first.serviceId, groupIds: groupIdsOf(rows) };
}

/** The groups in a service's rows joined to ServiceGroup: a service in no group has one row, with null. */
function groupIdsOf(rows: { groupId: string | null }[]): string[] {
  return rows.flatMap((r) => (r.groupId ? [r.groupId] : []));
}

/** Locks the rows of `table` the statement reads, on PostgreSQL (the outer join's other side may not be locked). */
function forUpdate(ctx: DbContext, table: string): string {
  return ctx.provider === "postgres" ? ` FOR UPDATE OF ${table}` : "";
}
