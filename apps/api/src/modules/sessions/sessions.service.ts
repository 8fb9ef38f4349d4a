// Access sessions: start, extend, end, approve, deny and expire. Each runs in one transaction
// with its audit event; exclusive services are locked per service so two starts cannot both win.
import type { TConflictDetails, TListSessionsQuery, TStartSessionBody } from "@postern/contracts";
import type { Prisma, Tx } from "@postern/db";
import { AppError, badField, forbidden, notFound } from "../../errors";
import { writeAudit, type Actor } from "../audit/audit.service";
import { inTransaction, lockRow, type DbContext } from "../../lib/db-context";
import type { UserWithGroups } from "../users/users.presenter";
import { canSeeService, visibleServicesWhere } from "../services/services.visibility";
import { sessionInclude, type SessionRow } from "./sessions.presenter";

export const OPEN_STATUSES = ["pending", "scheduled", "active"] as const;

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

function checkDuration(seconds: number, service: { maxDurationSeconds: number }, limits: SessionLimits, field: string) {
  if (seconds < limits.minSessionSeconds) {
    throw badField(field, `must be at least ${limits.minSessionSeconds} seconds`);
  }
  if (seconds > service.maxDurationSeconds) {
    throw badField(field, `must not exceed the service's maximum of ${service.maxDurationSeconds} seconds`);
  }
}

async function conflictOnExclusive(tx: Tx, serviceId: string, exceptSessionId?: string): Promise<AppError | null> {
  const holder = await tx.accessSession.findFirst({
    where: { serviceId, status: "active", id: exceptSessionId ? { not: exceptSessionId } : undefined },
    include: { user: { select: { id: true, username: true, displayName: true } } },
  });
  if (!holder) return null;
  const details: TConflictDetails = {
    holder: { id: holder.user.id, username: holder.user.username, displayName: holder.user.displayName ?? undefined },
    sessionId: holder.id,
    expiresAt: holder.expiresAt?.toISOString(),
  };
  const until = holder.expiresAt ? ` until ${holder.expiresAt.toISOString()}` : "";
  return new AppError("conflict", `this service is held by ${holder.user.username}${until}`, details);
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
    const mine = await tx.accessSession.findFirst({
      where: { serviceId, userId: caller.user.id, status: { in: [...OPEN_STATUSES] } },
      select: { id: true, status: true },
    });
    if (mine) {
      throw new AppError("conflict", `you already have an open (${mine.status}) session on this service`, { sessionId: mine.id });
    }
    if (service.exclusive && !service.requiresApproval) {
      const conflict = await conflictOnExclusive(tx, serviceId);
      if (conflict) throw conflict;
    }
    const now = ctx.now();
    const pending = service.requiresApproval;
    const session = await tx.accessSession.create({
      data: {
        serviceId,
        userId: caller.user.id,
        status: pending ? "pending" : "active",
        reason: body.reason || null,
        sourceIp: body.sourceIp ?? caller.sourceIp ?? null,
        durationSeconds,
        requestedAt: now,
        startedAt: pending ? null : now,
        expiresAt: pending ? null : new Date(now.getTime() + durationSeconds * 1000),
      },
      include: sessionInclude,
    });
    await writeAudit(ctx, tx, {
      actor: actorOf(caller.user),
      action: pending ? "session.requested" : "session.started",
      target: `session:${session.id}`,
      serviceId,
      sessionId: session.id,
      sourceIp: caller.sourceIp,
      details: {
        service: service.slug,
        durationSeconds,
        sessionSourceIp: session.sourceIp,
        expiresAt: session.expiresAt?.toISOString(),
        reason: session.reason,
      },
    });
    return session;
  });
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

/** An admin decides on a pending request; on approval the clock starts now, not at the request. */
export async function decideSession(
  ctx: DbContext,
  caller: SessionCaller,
  sessionId: string,
  approve: boolean,
): Promise<SessionRow> {
  if (caller.user.role !== "admin") throw forbidden("only admins approve or deny requests");
  return inTransaction(ctx, async (tx) => {
    await lockRow(ctx, tx, "AccessSession", sessionId);
    const session = await tx.accessSession.findUnique({ where: { id: sessionId }, include: { service: true } });
    if (!session) throw notFound("session");
    if (session.status !== "pending") throw new AppError("conflict", `the session is ${session.status}, not pending`);
    const now = ctx.now();
    if (approve && session.service.exclusive) {
      await lockRow(ctx, tx, "Service", session.serviceId);
      const conflict = await conflictOnExclusive(tx, session.serviceId, sessionId);
      if (conflict) throw conflict;
    }
    const updated = await tx.accessSession.update({
      where: { id: sessionId },
      data: approve
        ? {
            status: "active",
            startedAt: now,
            expiresAt: new Date(now.getTime() + session.durationSeconds * 1000),
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
      details: { requester: updated.user.username, expiresAt: updated.expiresAt?.toISOString() },
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
