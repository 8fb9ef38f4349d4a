// Access follows permission: whenever a user may no longer see a service — removed from a group,
// the service's groups changed, a group deleted, demoted, disabled, deleted — every open session
// of theirs on it ends in the same transaction as the change that took the right away, with the
// event `session.revoked` (audited, live). Its gateway door closes when the dispatcher hands the
// change to the gateway hub, which recomputes the desired rules without it.
import { isOpenStatus, type TRevocationCause } from "@postern/contracts";
import type { SqlRunner, SqlValue, Tx } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import { runSqlChange, type Origin, type RecordEvent } from "../../lib/run-change";
import { actorUserId, type Actor } from "../audit/audit.service";
import { holderMaySeeColumn, mayHolderSee } from "../services/services.visibility";
import { presentSession, type SessionRow } from "./sessions.presenter";
import { lockSessions, OPEN_STATUS_LIST, updateSessions } from "./sessions.sql";

/** Sessions locked and ended per statement: well inside either database's limit on parameters. */
const REVOKE_BATCH = 500;

export interface RevocationScope {
  userIds?: string[];
  serviceIds?: string[];
  /** End every open session in scope, visible or not (the service or the user is going away). */
  all?: boolean;
}

/**
 * Ends the open sessions in `scope` whose holder may no longer see the service, as the database
 * stands inside `tx` (after the change). Returns the ids of the sessions it ended.
 */
export async function revokeLostAccess(
  ctx: DbContext,
  tx: Tx,
  record: RecordEvent,
  scope: RevocationScope,
  cause: TRevocationCause,
  actor: Actor | null,
  /** Groups that could see the service until this change: its holders may be among them only. */
  formerGroupIds?: string[],
): Promise<string[]> {
  const revoked = await revokeLost(ctx, ctx.sql.within(tx), record, scope, cause, actor, formerGroupIds);
  return revoked.map((s) => s.id);
}

/** `revokeLostAccess` in a plain-SQL change: the sessions it ended. */
export async function revokeLost(
  ctx: DbContext,
  sql: SqlRunner,
  record: RecordEvent,
  scope: RevocationScope,
  cause: TRevocationCause,
  actor: Actor | null,
  formerGroupIds?: string[],
): Promise<SessionRow[]> {
  const lost = (await findLost(sql, scope)).map(({ id }) => id);
  const now = ctx.now();
  const endedById = actorUserId(actor);
  const endedBy = endedById && actor ? { id: endedById, username: actor.username } : null;
  const change = { status: "ended", endedAt: now, endedById };
  const ended: SessionRow[] = [];
  // Locked and ended a batch at a time: two statements however many there are, where a lock and an
  // update each cost a revoked session about a millisecond inside an admin's Prisma transaction.
  // A session another writer ended meanwhile is not ended twice.
  for (let i = 0; i < lost.length; i += REVOKE_BATCH) {
    const sessions = (await lockSessions(ctx, sql, lost.slice(i, i + REVOKE_BATCH))).filter((s) => isOpenStatus(s.status));
    updateSessions(sql, sessions.map((s) => s.id), change);
    for (const session of sessions) {
      const revoked: SessionRow = { ...session, ...change, endedBy };
      record(
        { type: "session.revoked", session: presentSession(revoked), reason: "access_revoked", cause },
        { details: { previousStatus: session.status }, ...(formerGroupIds?.length ? { audience: { alsoGroupIds: formerGroupIds } } : {}) },
      );
      ended.push(revoked);
    }
  }
  return ended;
}

/**
 * The open sessions in `scope` whose holder may no longer see the service (every open one with
 * `all`), in id order, as `sql` sees the database: read inside a revocation's transaction, or
 * from committed state to learn whether one is due (late-starts.ts).
 */
export async function findLost(sql: SqlRunner, scope: RevocationScope): Promise<{ id: string; userId: string }[]> {
  const either: string[] = [];
  const params: SqlValue[] = [];
  const among = (column: string, ids: string[] | undefined) => {
    if (!ids?.length) return;
    either.push(`s."${column}" IN (${ids.map(() => "?").join(", ")})`);
    params.push(...ids);
  };
  among("userId", scope.userIds);
  among("serviceId", scope.serviceIds);
  if (either.length === 0) return [];
  // In id order, as every revocation locks them (`lockSessions`): two that meet (a group deleted
  // while one of its members is disabled) wait for each other instead of deadlocking.
  const open = await sql.all<{ id: string; userId: string; maySee: number }>(
    `SELECT s."id", s."userId", ${holderMaySeeColumn("u", `s."serviceId"`)} AS "maySee"
     FROM "AccessSession" s JOIN "User" u ON u."id" = s."userId"
     WHERE s."status" IN ${OPEN_STATUS_LIST} AND (${either.join(" OR ")}) ORDER BY s."id" ASC`,
    params,
  );
  return open.filter(({ maySee }) => scope.all || !mayHolderSee(maySee)).map(({ id, userId }) => ({ id, userId }));
}

/**
 * One session, still in `status`, whose holder the clock or an approval found may no longer see
 * its service although no revocation ended it (a restore, a change made around it): revoked, with
 * whatever else the holder held there, in a change of its own. The revoked session, or null when
 * it was not (no longer in `status`, or the holder may see the service again).
 */
export async function revokeIfLost(
  ctx: DbContext,
  origin: Origin,
  sessionId: string,
  status: string,
  /** Why, when the change that took the right away is known (late-starts.ts). */
  cause: TRevocationCause = "no_longer_visible",
): Promise<SessionRow | null> {
  return runSqlChange(ctx, origin, async (sql, record) => {
    // Not locked here: revocation takes its sessions' locks in id order.
    const session = await sql.get<{ status: string; userId: string; serviceId: string }>(
      `SELECT "status", "userId", "serviceId" FROM "AccessSession" WHERE "id" = ?`,
      [sessionId],
    );
    if (session?.status !== status) return null;
    const scope = { userIds: [session.userId], serviceIds: [session.serviceId] };
    const revoked = await revokeLost(ctx, sql, record, scope, cause, origin.actor);
    return revoked.find((s) => s.id === sessionId) ?? null;
  });
}
