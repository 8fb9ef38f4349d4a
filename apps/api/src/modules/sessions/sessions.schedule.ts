// Time on a service: the span each open session occupies, the 409s when a new span overlaps one
// (checked when a session is booked, approved, accepted or extended — never when it starts),
// and starting booked sessions when their window opens.
import { OPEN_STATUSES, type TConflictDetails } from "@postern/contracts";
import type { Tx } from "@postern/db";
import { AppError } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import { runChange, SYSTEM } from "../../lib/run-change";
import { holderMaySee, holderStateSelect } from "../services/services.visibility";
import { revokeLostAccess } from "./revocation";
import { presentSession, sessionInclude } from "./sessions.presenter";

const FOREVER = new Date(8.64e15);

interface Occupant {
  id: string;
  status: string;
  durationSeconds: number;
  startsAt: Date | null;
  expiresAt: Date | null;
  offerExpiresAt: Date | null;
  user: { id: string; username: string; displayName: string | null };
}

const occupantSelect = {
  id: true,
  status: true,
  durationSeconds: true,
  startsAt: true,
  expiresAt: true,
  offerExpiresAt: true,
  user: { select: { id: true, username: true, displayName: true } },
} as const;

/**
 * The half-open span [from, to) an open session claims. An active session always claims the
 * present, even past its expiry until the scheduler has flipped it, so there is never a moment
 * with two holders. Requests without a time (pending now, waiting) claim everything from now.
 */
export function spanOf(s: Omit<Occupant, "id" | "user">, now: Date): [Date, Date] {
  switch (s.status) {
    case "active":
      return [now, s.expiresAt && s.expiresAt > now ? s.expiresAt : new Date(now.getTime() + 1)];
    case "scheduled":
      return [s.startsAt ?? now, s.expiresAt ?? FOREVER];
    case "offered":
      return [now, s.offerExpiresAt && s.offerExpiresAt > now ? s.offerExpiresAt : new Date(now.getTime() + 1)];
    case "pending":
      return s.startsAt ? [s.startsAt, new Date(s.startsAt.getTime() + s.durationSeconds * 1000)] : [now, FOREVER];
    default:
      return [now, FOREVER];
  }
}

const overlaps = (a: [Date, Date], b: [Date, Date]) => a[0] < b[1] && b[0] < a[1];

function conflictWith(o: Occupant, message: string, until?: Date | null): AppError {
  const details: TConflictDetails = {
    holder: { id: o.user.id, username: o.user.username, displayName: o.user.displayName ?? undefined },
    sessionId: o.id,
    expiresAt: until?.toISOString(),
  };
  return new AppError("conflict", message, details);
}

export interface ExclusiveCheck {
  /** The session being decided on, which must not conflict with itself. */
  exceptId?: string;
  /** Whether people already waiting in line stop someone from taking the service now. */
  queueBlocks?: boolean;
}

/**
 * Why [from, to) cannot be held on an exclusive service, naming whoever holds, is offered or has
 * booked it (or the first in line); null when it is free. Callers hold the service's row lock.
 */
export async function exclusiveConflict(
  ctx: DbContext,
  tx: Tx,
  serviceId: string,
  span: [Date, Date],
  check: ExclusiveCheck = {},
): Promise<AppError | null> {
  const now = ctx.now();
  const others = await tx.accessSession.findMany({
    where: {
      serviceId,
      status: { in: ["active", "offered", "scheduled"] },
      id: check.exceptId ? { not: check.exceptId } : undefined,
    },
    select: occupantSelect,
  });
  const rank = { active: 0, offered: 1, scheduled: 2 } as Record<string, number>;
  others.sort((a, b) => (rank[a.status] ?? 9) - (rank[b.status] ?? 9) || spanOf(a, now)[0].getTime() - spanOf(b, now)[0].getTime());
  for (const o of others) {
    if (!overlaps(span, spanOf(o, now))) continue;
    if (o.status === "active") {
      const until = o.expiresAt ? ` until ${o.expiresAt.toISOString()}` : "";
      return conflictWith(o, `this service is held by ${o.user.username}${until}`, o.expiresAt);
    }
    if (o.status === "offered") {
      return conflictWith(
        o,
        `this service is offered to ${o.user.username} from its waitlist until ${o.offerExpiresAt?.toISOString()}`,
        o.offerExpiresAt,
      );
    }
    return conflictWith(
      o,
      `this service is booked by ${o.user.username} from ${o.startsAt?.toISOString()} until ${o.expiresAt?.toISOString()}`,
      o.expiresAt,
    );
  }
  if (check.queueBlocks && span[0] <= now) {
    const waiting = await tx.accessSession.findMany({
      where: { serviceId, status: "waiting", id: check.exceptId ? { not: check.exceptId } : undefined },
      select: occupantSelect,
      orderBy: [{ requestedAt: "asc" }, { id: "asc" }],
    });
    const head = waiting[0];
    if (head) {
      const people = waiting.length === 1 ? "1 person waits" : `${waiting.length} people wait`;
      return conflictWith(head, `${people} for this service (first: ${head.user.username}); join its waitlist`);
    }
  }
  return null;
}

/** A 409 when the caller's own open sessions on the service already claim part of [from, to). */
export async function ownConflict(
  ctx: DbContext,
  tx: Tx,
  userId: string,
  serviceId: string,
  span: [Date, Date],
  exceptId?: string,
): Promise<AppError | null> {
  const now = ctx.now();
  const mine = await tx.accessSession.findMany({
    where: { serviceId, userId, status: { in: [...OPEN_STATUSES] }, id: exceptId ? { not: exceptId } : undefined },
    select: occupantSelect,
  });
  const clash = mine.find((s) => overlaps(span, spanOf(s, now)));
  if (!clash) return null;
  return new AppError("conflict", `you already have an open (${clash.status}) session on this service`, {
    sessionId: clash.id,
  });
}

/**
 * Starts every booked session whose window has opened. Each flips under a conditional update
 * (`status = 'scheduled'`), so with several API instances exactly one starts it and records it.
 * A window that closed entirely while the API was down is recorded as expired, not started; a
 * holder who may no longer see the service is revoked instead of let in.
 */
export async function startDueScheduled(ctx: DbContext): Promise<number> {
  const now = ctx.now();
  const due = await ctx.db.accessSession.findMany({
    where: { status: "scheduled", startsAt: { lte: now } },
    select: { id: true },
    orderBy: { startsAt: "asc" },
    take: 500,
  });
  let moved = 0;
  for (const { id } of due) {
    const done = await runChange(ctx, SYSTEM, async (tx, record) => {
      const session = await tx.accessSession.findUnique({
        where: { id },
        include: { user: { select: holderStateSelect }, service: { select: { groups: { select: { groupId: true } } } } },
      });
      if (!session?.startsAt || session.status !== "scheduled") return false;
      if (!holderMaySee(session.user, session.service.groups.map((g) => g.groupId))) {
        const revoked = await revokeLostAccess(ctx, tx, record, { userIds: [session.userId], serviceIds: [session.serviceId] }, "no_longer_visible", null);
        return revoked.length > 0;
      }
      const missed = session.expiresAt !== null && session.expiresAt <= now;
      const flipped = await tx.accessSession.updateMany({
        where: { id, status: "scheduled", startsAt: { lte: now } },
        data: missed ? { status: "expired", endedAt: session.expiresAt } : { status: "active", startedAt: now },
      });
      if (flipped.count === 0) return false;
      const row = presentSession(await tx.accessSession.findUniqueOrThrow({ where: { id }, include: sessionInclude }));
      const details = missed ? undefined : { lateMs: now.getTime() - session.startsAt.getTime() };
      if (missed) record({ type: "session.expired", session: row, missed: true });
      else record({ type: "session.started", session: row, via: "schedule" }, { details });
      return true;
    });
    if (done) moved += 1;
  }
  return moved;
}

/** When the next booked session starts, if any. */
export async function nextScheduledStart(ctx: DbContext): Promise<Date | null> {
  const next = await ctx.db.accessSession.findFirst({
    where: { status: "scheduled", startsAt: { not: null } },
    orderBy: { startsAt: "asc" },
    select: { startsAt: true },
  });
  return next?.startsAt ?? null;
}
