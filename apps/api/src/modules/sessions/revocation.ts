// Access follows permission: whenever a user may no longer see a service — removed from a group,
// the service's groups changed, a group deleted, demoted, disabled, deleted — every open session
// of theirs on it ends in the same transaction as the change that took the right away, with the
// event `session.revoked` (audited, live). Its gateway door closes when the dispatcher hands the
// change to the gateway hub, which recomputes the desired rules without it.
import { OPEN_STATUSES, type TRevocationCause } from "@postern/contracts";
import type { Prisma, Tx } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import { runChange, type Origin, type RecordEvent } from "../../lib/run-change";
import { actorUserId, type Actor } from "../audit/audit.service";
import { holderMaySee, holderStateSelect } from "../services/services.visibility";
import { presentSession, sessionInclude, type SessionRow } from "./sessions.presenter";

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
): Promise<string[]> {
  const or: Prisma.AccessSessionWhereInput[] = [];
  if (scope.userIds?.length) or.push({ userId: { in: scope.userIds } });
  if (scope.serviceIds?.length) or.push({ serviceId: { in: scope.serviceIds } });
  if (or.length === 0) return [];
  // In id order, as every revocation ends them: two that meet (a group deleted while one of its
  // members is disabled) wait for each other instead of deadlocking.
  const open = await tx.accessSession.findMany({
    where: { status: { in: [...OPEN_STATUSES] }, OR: or },
    orderBy: { id: "asc" },
    select: {
      id: true,
      status: true,
      user: { select: holderStateSelect },
      service: { select: { groups: { select: { groupId: true } } } },
    },
  });
  const lost = open.filter((s) => scope.all || !holderMaySee(s.user, s.service.groups.map((g) => g.groupId)));
  const now = ctx.now();
  const ended: string[] = [];
  for (const s of lost) {
    // Conditional, so a session another writer ended meanwhile is not ended twice.
    const flipped = await tx.accessSession.updateMany({
      where: { id: s.id, status: { in: [...OPEN_STATUSES] } },
      data: { status: "ended", endedAt: now, endedById: actorUserId(actor) },
    });
    if (flipped.count === 0) continue;
    const row = await tx.accessSession.findUniqueOrThrow({ where: { id: s.id }, include: sessionInclude });
    record(
      { type: "session.revoked", session: presentSession(row), reason: "access_revoked", cause },
      { details: { previousStatus: s.status } },
    );
    ended.push(s.id);
  }
  return ended;
}

/**
 * One session, still in `status`, whose holder the clock or an approval found may no longer see
 * its service although no revocation ended it (a restore, a change made around it): revoked, with
 * whatever else the holder held there, in a transaction of its own. The revoked session, or null
 * when it was not (no longer in `status`, or the holder may see the service again).
 */
export async function revokeIfLost(ctx: DbContext, origin: Origin, sessionId: string, status: string): Promise<SessionRow | null> {
  return runChange(ctx, origin, async (tx, record) => {
    const session = await tx.accessSession.findUnique({ where: { id: sessionId }, select: { status: true, userId: true, serviceId: true } });
    if (session?.status !== status) return null;
    const scope = { userIds: [session.userId], serviceIds: [session.serviceId] };
    const revoked = await revokeLostAccess(ctx, tx, record, scope, "no_longer_visible", origin.actor);
    if (!revoked.includes(sessionId)) return null;
    return tx.accessSession.findUniqueOrThrow({ where: { id: sessionId }, include: sessionInclude });
  });
}
