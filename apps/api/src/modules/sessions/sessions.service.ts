// Access sessions: start (now or booked for later), extend, end, approve, deny and expire. Each
// runs in one transaction with its audit event; exclusive services are locked per service so two
// starts cannot both win. Lock order everywhere: the Service row, then the AccessSession row.
import type { TListSessionsQuery, TStartSessionBody } from "@postern/contracts";
import type { Prisma, Tx } from "@postern/db";
import { AppError, badField, forbidden, notFound } from "../../errors";
import { writeAudit, type Actor } from "../audit/audit.service";
import { inTransaction, lockRow, type DbContext } from "../../lib/db-context";
import type { UserWithGroups } from "../users/users.presenter";
import { canSeeService, visibleServicesWhere } from "../services/services.visibility";
import { sessionInclude, type SessionRow } from "./sessions.presenter";
import { exclusiveConflict, OPEN_STATUSES, ownConflict } from "./sessions.schedule";

export { OPEN_STATUSES };

export interface SessionCaller {
  user: UserWithGroups;
  sourceIp?: string;
}

export interface SessionLimits {
  minSessionSeconds: number;
}

const actorOf = (user: { id: string; username: string }): Actor => ({ id: user.id, username: user.username });

export async function findSessions(
  ctx: DbContext,
  user: UserWithGroups,
  query: TListSessionsQuery,
): Promise<SessionRow[]> {
  const where: Prisma.AccessSessionWhereInput = { service: visibleServicesWhere(user) };
  if (query.active === "true") where.status = { in: [...OPEN_STATUSES] };
  if (query.active === "false") where.status = { notIn: [...OPEN_STATUSES] };
  if (query.serviceId) where.serviceId = query.serviceId;
  if (query.mine === "true") where.userId = user.id;
  else if (query.userId) where.userId = query.userId;
  return ctx.db.accessSession.findMany({
    where,
    include: sessionInclude,
    orderBy: { requestedAt: "desc" },
    take: query.limit ?? 200,
  });
}

export function checkDuration(seconds: number, service: { maxDurationSeconds: number }, limits: SessionLimits, field: string) {
  if (seconds < limits.minSessionSeconds) {
    throw badField(field, `must be at least ${limits.minSessionSeconds} seconds`);
  }
  if (seconds > service.maxDurationSeconds) {
    throw badField(field, `must not exceed the service's maximum of ${service.maxDurationSeconds} seconds`);
  }
}

const after = (from: Date, seconds: number) => new Date(from.getTime() + seconds * 1000);

/** The live-change verb that announces a freshly created session. */
export function startVerb(session: { status: string }): "requested" | "scheduled" | "started" {
  if (session.status === "pending") return "requested";
  return session.status === "scheduled" ? "scheduled" : "started";
}

export async function startSession(
  ctx: DbContext,
  caller: SessionCaller,
  serviceId: string,
  body: TStartSessionBody,
  limits: SessionLimits,
): Promise<SessionRow> {
  return inTransaction(ctx, async (tx) => {
    await lockRow(ctx, tx, "Service", serviceId);
    const service = await tx.service.findUnique({ where: { id: serviceId }, include: { groups: true } });
    if (!service || !canSeeService(caller.user, service.groups.map((g) => g.groupId))) throw notFound("service");
    const durationSeconds = body.durationSeconds ?? service.defaultDurationSeconds;
    checkDuration(durationSeconds, service, limits, "body.durationSeconds");
    const now = ctx.now();
    const startsAt = body.startsAt ? new Date(body.startsAt) : null;
    if (startsAt && startsAt <= now) throw badField("body.startsAt", "must be in the future");
    const span: [Date, Date] = [startsAt ?? now, after(startsAt ?? now, durationSeconds)];
    const mine = await ownConflict(ctx, tx, caller.user.id, serviceId, span);
    if (mine) throw mine;
    const pending = service.requiresApproval;
    // A request for approval now is checked at approval, when the holder may be gone; a booked
    // window is checked now as well, because the booking is what people plan around.
    if (service.exclusive && (!pending || startsAt)) {
      const conflict = await exclusiveConflict(ctx, tx, serviceId, span, { queueBlocks: true });
      if (conflict) throw conflict;
    }
    const status = pending ? "pending" : startsAt ? "scheduled" : "active";
    const session = await tx.accessSession.create({
      data: {
        serviceId,
        userId: caller.user.id,
        status,
        reason: body.reason || null,
        sourceIp: body.sourceIp ?? caller.sourceIp ?? null,
        durationSeconds,
        requestedAt: now,
        startsAt,
        startedAt: status === "active" ? now : null,
        expiresAt: status === "pending" ? null : span[1],
      },
      include: sessionInclude,
    });
    await writeAudit(ctx, tx, {
      actor: actorOf(caller.user),
      action: `session.${status === "pending" ? "requested" : status === "scheduled" ? "scheduled" : "started"}`,
      target: `session:${session.id}`,
      serviceId,
      sessionId: session.id,
      sourceIp: caller.sourceIp,
      details: {
        service: service.slug,
        durationSeconds,
        sessionSourceIp: session.sourceIp,
        startsAt: startsAt?.toISOString(),
        expiresAt: session.expiresAt?.toISOString(),
        reason: session.reason,
      },
    });
    return session;
  });
}

/** Takes the lock on a session's service first, so every writer locks in the same order. */
async function lockServiceOf(ctx: DbContext, tx: Tx, sessionId: string): Promise<void> {
  const row = await tx.accessSession.findUnique({ where: { id: sessionId }, select: { serviceId: true } });
  if (row) await lockRow(ctx, tx, "Service", row.serviceId);
}

async function loadOwnOrAdmin(tx: Tx, caller: SessionCaller, sessionId: string): Promise<SessionRow> {
  const session = await tx.accessSession.findUnique({
    where: { id: sessionId },
    include: { ...sessionInclude, service: { include: { groups: true } } },
  });
  if (!session || !canSeeService(caller.user, session.service.groups.map((g) => g.groupId))) throw notFound("session");
  if (session.userId !== caller.user.id && caller.user.role !== "admin") {
    throw forbidden("only the session's holder or an admin may change it");
  }
  return session;
}

export async function extendSession(
  ctx: DbContext,
  caller: SessionCaller,
  sessionId: string,
  durationSeconds: number,
  limits: SessionLimits,
): Promise<SessionRow> {
  return inTransaction(ctx, async (tx) => {
    await lockServiceOf(ctx, tx, sessionId);
    await lockRow(ctx, tx, "AccessSession", sessionId);
    const session = await loadOwnOrAdmin(tx, caller, sessionId);
    const now = ctx.now();
    if (session.status !== "active" || !session.expiresAt || session.expiresAt <= now) {
      throw new AppError("conflict", `only an active session can be extended; this one is ${session.status}`);
    }
    const service = await tx.service.findUniqueOrThrow({ where: { id: session.serviceId } });
    if (durationSeconds < limits.minSessionSeconds) {
      throw badField("body.durationSeconds", `must be at least ${limits.minSessionSeconds} seconds`);
    }
    const expiresAt = new Date(session.expiresAt.getTime() + durationSeconds * 1000);
    // The maximum bounds how far ahead a session may run: at no moment does anyone hold a
    // service for more than the maximum from now.
    const ahead = Math.ceil((expiresAt.getTime() - now.getTime()) / 1000);
    if (ahead > service.maxDurationSeconds) {
      const allowed = Math.max(0, service.maxDurationSeconds - Math.ceil((session.expiresAt.getTime() - now.getTime()) / 1000));
      throw badField(
        "body.durationSeconds",
        `would run the session ${ahead} seconds from now, past the service's maximum of ${service.maxDurationSeconds}; at most ${allowed} more seconds are allowed now`,
      );
    }
    if (service.exclusive) {
      const conflict = await exclusiveConflict(ctx, tx, session.serviceId, [now, expiresAt], { exceptId: sessionId });
      if (conflict) throw conflict;
    }
    const updated = await tx.accessSession.update({
      where: { id: sessionId },
      data: { expiresAt, durationSeconds: session.durationSeconds + durationSeconds },
      include: sessionInclude,
    });
    await writeAudit(ctx, tx, {
      actor: actorOf(caller.user),
      action: "session.extended",
      target: `session:${sessionId}`,
      serviceId: session.serviceId,
      sessionId,
      sourceIp: caller.sourceIp,
      details: { addedSeconds: durationSeconds, expiresAt: expiresAt.toISOString(), holder: session.user.username },
    });
    return updated;
  });
}

/** Ends a session early; by an admin on someone else's session this is a force-end. */
export async function endSession(ctx: DbContext, caller: SessionCaller, sessionId: string): Promise<SessionRow> {
  return inTransaction(ctx, async (tx) => {
    await lockRow(ctx, tx, "AccessSession", sessionId);
    const session = await loadOwnOrAdmin(tx, caller, sessionId);
    if (!(OPEN_STATUSES as readonly string[]).includes(session.status)) {
      throw new AppError("conflict", `the session is already ${session.status}`);
    }
    const forced = session.userId !== caller.user.id;
    const updated = await tx.accessSession.update({
      where: { id: sessionId },
      data: { status: "ended", endedAt: ctx.now(), endedById: caller.user.id },
      include: sessionInclude,
    });
    await writeAudit(ctx, tx, {
      actor: actorOf(caller.user),
      action: forced ? "session.force_ended" : "session.ended",
      target: `session:${sessionId}`,
      serviceId: session.serviceId,
      sessionId,
      sourceIp: caller.sourceIp,
      details: { holder: session.user.username, previousStatus: session.status },
    });
    return updated;
  });
}

/**
 * An admin decides on a pending request. On approval the clock starts now, not at the request;
 * a request for a later window becomes `scheduled` and starts when its window opens (or now, for
 * its full length, if the window's start has already passed).
 */
export async function decideSession(
  ctx: DbContext,
  caller: SessionCaller,
  sessionId: string,
  approve: boolean,
): Promise<SessionRow> {
  if (caller.user.role !== "admin") throw forbidden("only admins approve or deny requests");
  return inTransaction(ctx, async (tx) => {
    await lockServiceOf(ctx, tx, sessionId);
    await lockRow(ctx, tx, "AccessSession", sessionId);
    const session = await tx.accessSession.findUnique({ where: { id: sessionId }, include: { service: true } });
    if (!session) throw notFound("session");
    if (session.status !== "pending") throw new AppError("conflict", `the session is ${session.status}, not pending`);
    const now = ctx.now();
    const later = session.startsAt !== null && session.startsAt > now;
    const from = later && session.startsAt ? session.startsAt : now;
    const span: [Date, Date] = [from, after(from, session.durationSeconds)];
    if (approve && session.service.exclusive) {
      const conflict = await exclusiveConflict(ctx, tx, session.serviceId, span, { exceptId: sessionId, queueBlocks: true });
      if (conflict) throw conflict;
    }
    const updated = await tx.accessSession.update({
      where: { id: sessionId },
      data: approve
        ? {
            status: later ? "scheduled" : "active",
            startedAt: later ? null : now,
            expiresAt: span[1],
            decidedById: caller.user.id,
            decidedAt: now,
          }
        : { status: "denied", endedAt: now, decidedById: caller.user.id, decidedAt: now },
      include: sessionInclude,
    });
    await writeAudit(ctx, tx, {
      actor: actorOf(caller.user),
      action: approve ? "session.approved" : "session.denied",
      target: `session:${sessionId}`,
      serviceId: session.serviceId,
      sessionId,
      sourceIp: caller.sourceIp,
      details: {
        requester: updated.user.username,
        startsAt: updated.startsAt?.toISOString(),
        expiresAt: updated.expiresAt?.toISOString(),
      },
    });
    return updated;
  });
}

/**
 * Marks every active session whose expiry has passed as expired. Safe to run from several API
 * instances at once: each session flips under a conditional update, so only one writes its event.
 */
export async function expireDueSessions(ctx: DbContext): Promise<SessionRow[]> {
  const now = ctx.now();
  const due = await ctx.db.accessSession.findMany({
    where: { status: "active", expiresAt: { lte: now } },
    select: { id: true },
    orderBy: { expiresAt: "asc" },
    take: 500,
  });
  const expired: SessionRow[] = [];
  for (const { id } of due) {
    const row = await inTransaction(ctx, async (tx) => {
      const session = await tx.accessSession.findUnique({ where: { id } });
      if (!session?.expiresAt) return null;
      const flipped = await tx.accessSession.updateMany({
        where: { id, status: "active", expiresAt: { lte: now } },
        data: { status: "expired", endedAt: session.expiresAt },
      });
      if (flipped.count === 0) return null;
      await writeAudit(ctx, tx, {
        action: "session.expired",
        target: `session:${id}`,
        serviceId: session.serviceId,
        sessionId: id,
        details: { expiresAt: session.expiresAt.toISOString() },
      });
      return tx.accessSession.findUniqueOrThrow({ where: { id }, include: sessionInclude });
    });
    if (row) expired.push(row);
  }
  return expired;
}

/** When the next active session expires, if any. */
export async function nextExpiry(ctx: DbContext): Promise<Date | null> {
  const next = await ctx.db.accessSession.findFirst({
    where: { status: "active", expiresAt: { not: null } },
    orderBy: { expiresAt: "asc" },
    select: { expiresAt: true },
  });
  return next?.expiresAt ?? null;
}
