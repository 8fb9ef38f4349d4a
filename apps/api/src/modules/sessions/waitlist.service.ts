// Waitlists on exclusive services. A place in line is an AccessSession in status `waiting`,
// ordered by when it joined; the first in line becomes `offered` when the service frees up and
// `active` when accepted. Offering and lapsing run in the scheduler, from the database state, so
// they happen however the holder went (ended, expired, force-ended, disabled) and after restarts.
import type { TAcceptOfferBody, TJoinWaitlistBody, TSession } from "@postern/contracts";
import { AppError, forbidden, notFound } from "../../errors";
import { lockRow, type DbContext } from "../../lib/db-context";
import { runChange, SYSTEM } from "../../lib/run-change";
import type { BoardView } from "../board/board.cache";
import { olderRequestFirst } from "../board/board.view";
import { canSeeService, holderMaySee, holderStateSelect } from "../services/services.visibility";
import { revokeLostAccess } from "./revocation";
import { presentSession, sessionInclude, type SessionRow } from "./sessions.presenter";
import { CALLER, decidedWindowProblem, exclusiveConflict, ownConflict, ownOpenSessions } from "./sessions.schedule";
import { after, checkDuration, closeDueSessions, type SessionCaller, type SessionLimits } from "./sessions.service";
import { servicesFreeForLine } from "./session-clock.sql";

const IN_LINE = ["waiting", "offered"] as const;

export async function joinWaitlist(
  ctx: DbContext,
  caller: SessionCaller,
  serviceId: string,
  body: TJoinWaitlistBody,
  limits: SessionLimits,
): Promise<SessionRow> {
  return runChange(ctx, caller.origin, async (tx, record) => {
    await lockRow(ctx, tx, "Service", serviceId);
    const service = await tx.service.findUnique({ where: { id: serviceId }, include: { groups: true } });
    if (!service || !canSeeService(caller.viewer, service.groups.map((g) => g.groupId))) throw notFound("service");
    if (!service.exclusive) {
      throw new AppError("conflict", "only exclusive services keep a waitlist; start a session instead");
    }
    // An approval service already queues its requests as `pending` and an admin approves them
    // once the service is free; a second queue in front of the admin would only confuse.
    if (service.requiresApproval) {
      throw new AppError("conflict", "this service requires approval: request a session and an admin approves it when the service is free");
    }
    const durationSeconds = body.durationSeconds ?? service.defaultDurationSeconds;
    checkDuration(durationSeconds, service, limits, "body.durationSeconds");
    const now = ctx.now();
    const mine = ownConflict(ctx, await ownOpenSessions(ctx.sql.within(tx), caller.viewer.user.id, serviceId), [now, after(now, durationSeconds)]);
    if (mine) throw mine;
    const ahead = await tx.accessSession.count({ where: { serviceId, status: { in: [...IN_LINE] } } });
    const session = await tx.accessSession.create({
      data: {
        serviceId,
        userId: caller.viewer.user.id,
        status: "waiting",
        reason: body.reason || null,
        sourceIp: body.sourceIp ?? caller.origin.sourceIp ?? null,
        durationSeconds,
        requestedAt: now,
      },
      include: sessionInclude,
    });
    record({ type: "session.waitlisted", session: presentSession(session), position: ahead + 1 });
    return session;
  });
}

/** Leaves the line (or turns down an offer, which then passes to the next in line). */
export async function leaveWaitlist(ctx: DbContext, caller: SessionCaller, serviceId: string): Promise<SessionRow> {
  return runChange(ctx, caller.origin, async (tx, record) => {
    await lockRow(ctx, tx, "Service", serviceId);
    const service = await tx.service.findUnique({ where: { id: serviceId }, include: { groups: true } });
    if (!service || !canSeeService(caller.viewer, service.groups.map((g) => g.groupId))) throw notFound("service");
    const entry = await tx.accessSession.findFirst({
      where: { serviceId, userId: caller.viewer.user.id, status: { in: [...IN_LINE] } },
    });
    if (!entry) throw notFound("waitlist entry");
    await lockRow(ctx, tx, "AccessSession", entry.id);
    const now = ctx.now();
    const left = await tx.accessSession.updateMany({
      where: { id: entry.id, status: { in: [...IN_LINE] } },
      data: { status: "ended", endedAt: now, endedById: caller.viewer.user.id },
    });
    if (left.count === 0) throw new AppError("conflict", "the waitlist entry changed meanwhile; try again");
    const row = await tx.accessSession.findUniqueOrThrow({ where: { id: entry.id }, include: sessionInclude });
    record({ type: "session.left_waitlist", session: presentSession(row) }, { details: { previousStatus: entry.status } });
    return row;
  });
}

/** The line for an exclusive service as the board shows it: the person offered it first, then
 * those waiting, each in the order they joined. */
export function lineOnBoard(view: BoardView, serviceId: string): TSession[] {
  const inLine = (status: string) => view.sessionsOn(serviceId).filter((s) => s.status === status).sort(olderRequestFirst);
  return [...inLine("offered"), ...inLine("waiting")];
}

/** The person offered a service takes it; the clock starts now. */
export async function acceptOffer(
  ctx: DbContext,
  caller: SessionCaller,
  sessionId: string,
  body: TAcceptOfferBody,
  limits: SessionLimits,
): Promise<SessionRow> {
  return runChange(ctx, caller.origin, async (tx, record) => {
    const found = await tx.accessSession.findUnique({ where: { id: sessionId }, select: { serviceId: true } });
    if (found) await lockRow(ctx, tx, "Service", found.serviceId);
    await lockRow(ctx, tx, "AccessSession", sessionId);
    const session = await tx.accessSession.findUnique({
      where: { id: sessionId },
      include: { ...sessionInclude, service: { include: { groups: true } } },
    });
    if (!session || !canSeeService(caller.viewer, session.service.groups.map((g) => g.groupId))) throw notFound("session");
    if (session.userId !== caller.viewer.user.id) throw forbidden("only the person offered the service may accept it");
    if (session.status !== "offered") throw new AppError("conflict", `the session is ${session.status}, not offered`);
    const now = ctx.now();
    if (!session.offerExpiresAt || session.offerExpiresAt <= now) {
      throw new AppError("conflict", `the offer lapsed at ${session.offerExpiresAt?.toISOString()} and passes to the next in line`);
    }
    const durationSeconds = body.durationSeconds ?? session.durationSeconds;
    checkDuration(durationSeconds, session.service, limits, "body.durationSeconds");
    const expiresAt = after(now, durationSeconds);
    const problem = await decidedWindowProblem(ctx, ctx.sql.within(tx), session, session.service, [now, expiresAt], limits, CALLER);
    if (problem) throw problem;
    const conflict = await exclusiveConflict(ctx, ctx.sql.within(tx), session.serviceId, [now, expiresAt], { exceptId: sessionId });
    if (conflict) throw conflict;
    const updated = await tx.accessSession.update({
      where: { id: sessionId },
      data: { status: "active", startedAt: now, expiresAt, durationSeconds },
      include: sessionInclude,
    });
    record({ type: "session.started", session: presentSession(updated), via: "waitlist" });
    return updated;
  });
}

/** Offers that were not accepted in time end as `expired`; conditional, so one instance wins. */
export function lapseDueOffers(ctx: DbContext): Promise<number> {
  return closeDueSessions(ctx, "offered");
}

/**
 * For every service with people waiting and nobody holding it (no active session, no open
 * offer), offers it to the first in line for `offerSeconds`. Runs under the service's row lock,
 * and each offer is a conditional update, so several API instances make one offer, not two. A
 * head of the line who may no longer see the service (disabled, left the group) is revoked and
 * the next one asked.
 */
export async function offerFreedServices(ctx: DbContext, offerSeconds: number): Promise<number> {
  let offers = 0;
  for (const serviceId of await servicesFreeForLine(ctx)) {
    const made = await runChange(ctx, SYSTEM, async (tx, record) => {
      await lockRow(ctx, tx, "Service", serviceId);
      const busy = await tx.accessSession.findFirst({
        where: { serviceId, status: { in: ["active", "offered"] } },
        select: { id: true },
      });
      if (busy) return 0;
      const groupIds = (await tx.serviceGroup.findMany({ where: { serviceId }, select: { groupId: true } })).map((g) => g.groupId);
      const now = ctx.now();
      for (;;) {
        const head = await tx.accessSession.findFirst({
          where: { serviceId, status: "waiting" },
          include: { user: { select: holderStateSelect } },
          orderBy: [{ requestedAt: "asc" }, { id: "asc" }],
        });
        if (!head) return 0;
        if (!holderMaySee(head.user, groupIds)) {
          await revokeLostAccess(ctx, tx, record, { userIds: [head.userId], serviceIds: [serviceId] }, "no_longer_visible", null);
          continue;
        }
        const offerExpiresAt = after(now, offerSeconds);
        const flipped = await tx.accessSession.updateMany({
          where: { id: head.id, status: "waiting" },
          data: { status: "offered", offerExpiresAt },
        });
        if (flipped.count === 0) continue;
        const row = await tx.accessSession.findUniqueOrThrow({ where: { id: head.id }, include: sessionInclude });
        record({ type: "session.offered", session: presentSession(row) });
        return 1;
      }
    });
    offers += made;
  }
  return offers;
}
