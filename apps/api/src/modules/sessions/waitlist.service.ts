// Waitlists on exclusive services. A place in line is an AccessSession in status `waiting`,
// ordered by when it joined; the first in line becomes `offered` when the service frees up and
// `active` when accepted. Offering and lapsing run in the scheduler, from the database state, so
// they happen however the holder went (ended, expired, force-ended, disabled) and after restarts.
import type { TAcceptOfferBody, TJoinWaitlistBody } from "@postern/contracts";
import { AppError, forbidden, notFound } from "../../errors";
import { writeAudit } from "../audit/audit.service";
import { inTransaction, lockRow, type DbContext } from "../../lib/db-context";
import type { UserWithGroups } from "../users/users.presenter";
import { canSeeService } from "../services/services.visibility";
import { sessionInclude, type SessionRow } from "./sessions.presenter";
import { exclusiveConflict, ownConflict } from "./sessions.schedule";
import { checkDuration, type SessionCaller, type SessionLimits } from "./sessions.service";

const IN_LINE = ["waiting", "offered"] as const;

const actorOf = (user: { id: string; username: string }) => ({ id: user.id, username: user.username });
const after = (from: Date, seconds: number) => new Date(from.getTime() + seconds * 1000);

export async function joinWaitlist(
  ctx: DbContext,
  caller: SessionCaller,
  serviceId: string,
  body: TJoinWaitlistBody,
  limits: SessionLimits,
): Promise<SessionRow> {
  return inTransaction(ctx, async (tx) => {
    await lockRow(ctx, tx, "Service", serviceId);
    const service = await tx.service.findUnique({ where: { id: serviceId }, include: { groups: true } });
    if (!service || !canSeeService(caller.user, service.groups.map((g) => g.groupId))) throw notFound("service");
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
    const mine = await ownConflict(ctx, tx, caller.user.id, serviceId, [now, after(now, durationSeconds)]);
    if (mine) throw mine;
    const ahead = await tx.accessSession.count({ where: { serviceId, status: { in: [...IN_LINE] } } });
    const session = await tx.accessSession.create({
      data: {
        serviceId,
        userId: caller.user.id,
        status: "waiting",
        reason: body.reason || null,
        sourceIp: body.sourceIp ?? caller.sourceIp ?? null,
        durationSeconds,
        requestedAt: now,
      },
      include: sessionInclude,
    });
    await writeAudit(ctx, tx, {
      actor: actorOf(caller.user),
      action: "waitlist.joined",
      target: `session:${session.id}`,
      serviceId,
      sessionId: session.id,
      sourceIp: caller.sourceIp,
      details: { service: service.slug, position: ahead + 1, durationSeconds, reason: session.reason },
    });
    return session;
  });
}

/** Leaves the line (or turns down an offer, which then passes to the next in line). */
export async function leaveWaitlist(ctx: DbContext, caller: SessionCaller, serviceId: string): Promise<SessionRow> {
  return inTransaction(ctx, async (tx) => {
    await lockRow(ctx, tx, "Service", serviceId);
    const service = await tx.service.findUnique({ where: { id: serviceId }, include: { groups: true } });
    if (!service || !canSeeService(caller.user, service.groups.map((g) => g.groupId))) throw notFound("service");
    const entry = await tx.accessSession.findFirst({
      where: { serviceId, userId: caller.user.id, status: { in: [...IN_LINE] } },
    });
    if (!entry) throw notFound("waitlist entry");
    await lockRow(ctx, tx, "AccessSession", entry.id);
    const now = ctx.now();
    const left = await tx.accessSession.updateMany({
      where: { id: entry.id, status: { in: [...IN_LINE] } },
      data: { status: "ended", endedAt: now, endedById: caller.user.id },
    });
    if (left.count === 0) throw new AppError("conflict", "the waitlist entry changed meanwhile; try again");
    await writeAudit(ctx, tx, {
      actor: actorOf(caller.user),
      action: "waitlist.left",
      target: `session:${entry.id}`,
      serviceId,
      sessionId: entry.id,
      sourceIp: caller.sourceIp,
      details: { service: service.slug, previousStatus: entry.status },
    });
    return tx.accessSession.findUniqueOrThrow({ where: { id: entry.id }, include: sessionInclude });
  });
}

/** The line for a service: the entry holding an offer first, then the waiting ones in order. */
export async function findWaitlist(ctx: DbContext, user: UserWithGroups, serviceId: string): Promise<SessionRow[]> {
  const service = await ctx.db.service.findUnique({ where: { id: serviceId }, include: { groups: true } });
  if (!service || !canSeeService(user, service.groups.map((g) => g.groupId))) throw notFound("service");
  const rows = await ctx.db.accessSession.findMany({
    where: { serviceId, status: { in: [...IN_LINE] } },
    include: sessionInclude,
    orderBy: [{ requestedAt: "asc" }, { id: "asc" }],
  });
  return [...rows.filter((r) => r.status === "offered"), ...rows.filter((r) => r.status === "waiting")];
}

/** The person offered a service takes it; the clock starts now. */
export async function acceptOffer(
  ctx: DbContext,
  caller: SessionCaller,
  sessionId: string,
  body: TAcceptOfferBody,
  limits: SessionLimits,
): Promise<SessionRow> {
  return inTransaction(ctx, async (tx) => {
    const found = await tx.accessSession.findUnique({ where: { id: sessionId }, select: { serviceId: true } });
    if (found) await lockRow(ctx, tx, "Service", found.serviceId);
    await lockRow(ctx, tx, "AccessSession", sessionId);
    const session = await tx.accessSession.findUnique({
      where: { id: sessionId },
      include: { ...sessionInclude, service: { include: { groups: true } } },
    });
    if (!session || !canSeeService(caller.user, session.service.groups.map((g) => g.groupId))) throw notFound("session");
    if (session.userId !== caller.user.id) throw forbidden("only the person offered the service may accept it");
    if (session.status !== "offered") throw new AppError("conflict", `the session is ${session.status}, not offered`);
    const now = ctx.now();
    if (!session.offerExpiresAt || session.offerExpiresAt <= now) {
      throw new AppError("conflict", `the offer lapsed at ${session.offerExpiresAt?.toISOString()} and passes to the next in line`);
    }
    const durationSeconds = body.durationSeconds ?? session.durationSeconds;
    checkDuration(durationSeconds, session.service, limits, "body.durationSeconds");
    const expiresAt = after(now, durationSeconds);
    const conflict = await exclusiveConflict(ctx, tx, session.serviceId, [now, expiresAt], { exceptId: sessionId });
    if (conflict) throw conflict;
    const updated = await tx.accessSession.update({
      where: { id: sessionId },
      data: { status: "active", startedAt: now, expiresAt, durationSeconds },
      include: sessionInclude,
    });
    await writeAudit(ctx, tx, {
      actor: actorOf(caller.user),
      action: "session.started",
      target: `session:${sessionId}`,
      serviceId: session.serviceId,
      sessionId,
      sourceIp: caller.sourceIp,
      details: {
        via: "waitlist",
        service: session.service.slug,
        durationSeconds,
        sessionSourceIp: session.sourceIp,
        expiresAt: expiresAt.toISOString(),
        reason: session.reason,
      },
    });
    return updated;
  });
}

export type WaitlistChange = { verb: "offered" | "offer_expired" | "left_waitlist"; session: SessionRow };

/** Offers that were not accepted in time end as `expired`; conditional, so one instance wins. */
export async function lapseDueOffers(ctx: DbContext): Promise<WaitlistChange[]> {
  const now = ctx.now();
  const due = await ctx.db.accessSession.findMany({
    where: { status: "offered", offerExpiresAt: { lte: now } },
    select: { id: true },
    orderBy: { offerExpiresAt: "asc" },
    take: 500,
  });
  const changes: WaitlistChange[] = [];
  for (const { id } of due) {
    const row = await inTransaction(ctx, async (tx) => {
      const session = await tx.accessSession.findUnique({ where: { id }, include: { user: true } });
      if (!session?.offerExpiresAt) return null;
      const flipped = await tx.accessSession.updateMany({
        where: { id, status: "offered", offerExpiresAt: { lte: now } },
        data: { status: "expired", endedAt: session.offerExpiresAt },
      });
      if (flipped.count === 0) return null;
      await writeAudit(ctx, tx, {
        action: "waitlist.offer_expired",
        target: `session:${id}`,
        serviceId: session.serviceId,
        sessionId: id,
        details: { offeredTo: session.user.username, offerExpiresAt: session.offerExpiresAt.toISOString() },
      });
      return tx.accessSession.findUniqueOrThrow({ where: { id }, include: sessionInclude });
    });
    if (row) changes.push({ verb: "offer_expired", session: row });
  }
  return changes;
}

/**
 * For every service with people waiting and nobody holding it (no active session, no open
 * offer), offers it to the first in line for `offerSeconds`. Runs under the service's row lock,
 * and each offer is a conditional update, so several API instances make one offer, not two.
 */
export async function offerFreedServices(ctx: DbContext, offerSeconds: number): Promise<WaitlistChange[]> {
  const queued = await ctx.db.accessSession.findMany({
    where: { status: "waiting" },
    distinct: ["serviceId"],
    select: { serviceId: true },
  });
  const changes: WaitlistChange[] = [];
  for (const { serviceId } of queued) {
    const made = await inTransaction(ctx, async (tx) => {
      const out: WaitlistChange[] = [];
      await lockRow(ctx, tx, "Service", serviceId);
      const busy = await tx.accessSession.findFirst({
        where: { serviceId, status: { in: ["active", "offered"] } },
        select: { id: true },
      });
      if (busy) return out;
      const now = ctx.now();
      for (;;) {
        const head = await tx.accessSession.findFirst({
          where: { serviceId, status: "waiting" },
          include: { user: true },
          orderBy: [{ requestedAt: "asc" }, { id: "asc" }],
        });
        if (!head) return out;
        // A disabled user keeps nothing, not even a place in line.
        const disabled = head.user.disabled;
        const offerExpiresAt = after(now, offerSeconds);
        const flipped = await tx.accessSession.updateMany({
          where: { id: head.id, status: "waiting" },
          data: disabled ? { status: "ended", endedAt: now } : { status: "offered", offerExpiresAt },
        });
        if (flipped.count === 0) continue;
        await writeAudit(ctx, tx, {
          action: disabled ? "waitlist.left" : "waitlist.offered",
          target: `session:${head.id}`,
          serviceId,
          sessionId: head.id,
          details: disabled
            ? { cause: "user disabled", holder: head.user.username }
            : { offeredTo: head.user.username, offerExpiresAt: offerExpiresAt.toISOString() },
        });
        const row = await tx.accessSession.findUniqueOrThrow({ where: { id: head.id }, include: sessionInclude });
        out.push({ verb: disabled ? "left_waitlist" : "offered", session: row });
        if (!disabled) return out;
      }
    });
    changes.push(...made);
  }
  return changes;
}

/** When the next open offer lapses, if any. */
export async function nextOfferExpiry(ctx: DbContext): Promise<Date | null> {
  const next = await ctx.db.accessSession.findFirst({
    where: { status: "offered", offerExpiresAt: { not: null } },
    orderBy: { offerExpiresAt: "asc" },
    select: { offerExpiresAt: true },
  });
  return next?.offerExpiresAt ?? null;
}
