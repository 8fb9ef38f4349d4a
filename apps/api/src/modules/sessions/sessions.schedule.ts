// Time on a service: the span each open session occupies, the 409s when a new span overlaps one
// (checked when a session is booked, approved, accepted or extended — never when it starts),
// and starting booked sessions when their window opens.
import { OPEN_STATUSES, type TConflictDetails } from "@postern/contracts";
import type { SqlRunner } from "@postern/db";
import { AppError, badField } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import { runSqlChange, SYSTEM } from "../../lib/run-change";
import { revokeIfLost } from "./revocation";
import { presentSession } from "./sessions.presenter";
import { dueSessionIds } from "./session-clock.sql";
import { byRequest, holderMaySeeNow, lockServiceRules, lockSession, statusList, updateSession } from "./sessions.sql";

const FOREVER = new Date(8.64e15);

export interface Occupant {
  id: string;
  status: string;
  durationSeconds: number;
  startsAt: Date | null;
  expiresAt: Date | null;
  offerExpiresAt: Date | null;
  user: { id: string; username: string; displayName: string | null };
}

/** An occupant as one flat SQL row: the user's columns beside the session's. */
type OccupantRow = Omit<Occupant, "user"> & { userId: string; username: string; displayName: string | null };

/** Open sessions on a service in the given statuses (but `exceptId`), with their holders. The
 * statuses are literals (`statusList`): with them as parameters, PostgreSQL's plan made without
 * their values read the service's whole history to find its few open sessions. */
async function occupants(
  sql: SqlRunner,
  where: { serviceId: string; statuses: readonly string[]; exceptId?: string; userId?: string },
  order = "",
): Promise<Occupant[]> {
  const params: (string | null)[] = [where.serviceId];
  let filter = "";
  if (where.exceptId) {
    filter += ` AND s."id" <> ?`;
    params.push(where.exceptId);
  }
  if (where.userId) {
    filter += ` AND s."userId" = ?`;
    params.push(where.userId);
  }
  const rows = await sql.all<OccupantRow>(
    `SELECT s."id", s."status", s."durationSeconds", s."startsAt", s."expiresAt", s."offerExpiresAt",
            u."id" AS "userId", u."username", u."displayName"
       FROM "AccessSession" s JOIN "User" u ON u."id" = s."userId"
      WHERE s."serviceId" = ? AND s."status" IN ${statusList(where.statuses)}${filter}${order}`,
    params,
  );
  return rows.map(({ userId, username, displayName, ...o }) => ({ ...o, user: { id: userId, username, displayName } }));
}

/** The instant an open session's time ran out, if it has by `now` (an active session's expiry, an
 * offered one's offer); null otherwise. The session clock closes it at that instant. */
export function endPassed(s: Pick<Occupant, "status" | "expiresAt" | "offerExpiresAt">, now: Date): Date | null {
  const end = s.status === "active" ? s.expiresAt : s.status === "offered" ? s.offerExpiresAt : null;
  return end && end <= now ? end : null;
}

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

/** Whether two half-open spans share an instant. */
export const overlaps = (a: [Date, Date], b: [Date, Date]) => a[0] < b[1] && b[0] < a[1];

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
  /** Closes, in the change, the occupants past their end (the clock's to close any moment now)
   * and answers the rest, so that no one stands in the way only until the clock comes
   * (`closingDue` in sessions.service.ts). */
  closeDue: (found: Occupant[]) => Promise<Occupant[]>;
}

/**
 * Why [from, to) cannot be held on an exclusive service, naming whoever holds, is offered or has
 * booked it (or the first in line); null when it is free. Callers hold the service's row lock.
 */
export async function exclusiveConflict(
  ctx: DbContext,
  sql: SqlRunner,
  serviceId: string,
  span: [Date, Date],
  check: ExclusiveCheck,
): Promise<AppError | null> {
  const now = ctx.now();
  // The line matters only for taking the service now; one read brings both when it does.
  const lineBlocks = check.queueBlocks === true && span[0] <= now;
  const found = await occupants(sql, { serviceId, statuses: exclusiveStatuses(lineBlocks), exceptId: check.exceptId }, byRequest(ctx, "ASC", true));
  return conflictAmong(await check.closeDue(found), span, now, lineBlocks);
}

/** The statuses that stand in the way of a span on an exclusive service: the line's too when it blocks. */
export function exclusiveStatuses(lineBlocks: boolean): readonly string[] {
  return lineBlocks ? ["active", "offered", "scheduled", "waiting"] : ["active", "offered", "scheduled"];
}

/**
 * `exclusiveConflict`'s judgement of the occupants it found (oldest request first, ties by id), so
 * that the route can give it from the board in memory (sessions.preflight.ts) and the transaction
 * from rows read under lock, by one rule.
 */
export function conflictAmong(found: readonly Occupant[], span: [Date, Date], now: Date, lineBlocks: boolean): AppError | null {
  const others = found.filter((o) => o.status !== "waiting");
  others.sort((a, b) => (RANK[a.status] ?? 9) - (RANK[b.status] ?? 9) || spanOf(a, now)[0].getTime() - spanOf(b, now)[0].getTime());
  for (const o of others) {
    if (overlaps(span, spanOf(o, now))) return occupiedBy(o);
  }
  if (lineBlocks) {
    const waiting = found.filter((o) => o.status === "waiting");
    const head = waiting[0];
    if (head) {
      const people = waiting.length === 1 ? "1 person waits" : `${waiting.length} people wait`;
      return conflictWith(head, `${people} for this service (first: ${head.user.username}); join its waitlist`);
    }
  }
  return null;
}

const RANK: Record<string, number> = { active: 0, offered: 1, scheduled: 2 };

/** The 409 naming an occupant, made once per occupant: its words are all the occupant's own, and
 * the board keeps one occupant per snapshot of a session (sessions.presenter.ts), so everyone
 * refused by the same holder gets the same refusal, serialised once (lib/refuse.ts). */
const occupiedRefusals = new WeakMap<Occupant, AppError>();

function occupiedBy(o: Occupant): AppError {
  let refusal = occupiedRefusals.get(o);
  if (refusal) return refusal;
  if (o.status === "active") {
    const until = o.expiresAt ? ` until ${o.expiresAt.toISOString()}` : "";
    refusal = conflictWith(o, `this service is held by ${o.user.username}${until}`, o.expiresAt);
  } else if (o.status === "offered") {
    refusal = conflictWith(o, `this service is offered to ${o.user.username} from its waitlist until ${o.offerExpiresAt?.toISOString()}`, o.offerExpiresAt);
  } else {
    refusal = conflictWith(o, `this service is booked by ${o.user.username} from ${o.startsAt?.toISOString()} until ${o.expiresAt?.toISOString()}`, o.expiresAt);
  }
  occupiedRefusals.set(o, refusal);
  return refusal;
}

/** A user's own open sessions on a service (but `exceptId`, the one being decided): what
 * `ownConflict` and `bookingLimitProblem` judge. */
export function ownOpenSessions(sql: SqlRunner, userId: string, serviceId: string, exceptId?: string): Promise<Occupant[]> {
  return occupants(sql, { serviceId, statuses: OPEN_STATUSES, userId, exceptId });
}

/** Whose sessions a refusal speaks of: the caller's own, or (to an admin deciding on a request) the requester's. */
export interface Party {
  /** "you already have", "alice already has" */
  alreadyHas: string;
  /** "your", "alice's" */
  their: string;
}

export const CALLER: Party = { alreadyHas: "you already have", their: "your" };
export const requester = (username: string): Party => ({ alreadyHas: `${username} already has`, their: `${username}'s` });

/** The caller's clash with each occupant, made once: the board keeps an occupant per snapshot of a
 * session (sessions.presenter.ts), so a start refused again and again (a script retrying) gets
 * the same refusal, and its envelope is serialised once (lib/refuse.ts). */
const callerClashes = new WeakMap<Occupant, AppError>();

/** A 409 when the party's own open sessions on the service already claim part of [from, to). */
export function ownConflict(ctx: DbContext, mine: Occupant[], span: [Date, Date], who: Party = CALLER): AppError | null {
  const now = ctx.now();
  const clash = mine.find((s) => overlaps(span, spanOf(s, now)));
  if (!clash) return null;
  const kept = who === CALLER ? callerClashes.get(clash) : undefined;
  if (kept) return kept;
  const refusal = new AppError("conflict", `${who.alreadyHas} an open (${clash.status}) session on this service`, {
    sessionId: clash.id,
  });
  if (who === CALLER) callerClashes.set(clash, refusal);
  return refusal;
}

export interface BookingLimits {
  minSessionSeconds: number;
  /** How far ahead a window may start (POSTERN_MAX_BOOKING_DAYS). */
  maxBookingDays: number;
  /** Open sessions one user may have on one service (POSTERN_MAX_BOOKINGS_PER_SERVICE). */
  maxBookingsPerService: number;
}

/** The span a user's own open session keeps them on the service: an active one since it began. */
function heldSpan(s: Occupant, now: Date): [Date, Date] {
  if (s.status === "active" && s.expiresAt) return [new Date(s.expiresAt.getTime() - s.durationSeconds * 1000), s.expiresAt];
  return spanOf(s, now);
}

/** A 409 when the party already has as many open sessions on the service as one may
 * (POSTERN_MAX_BOOKINGS_PER_SERVICE), places in line included. */
export function bookingCountProblem(mine: readonly Occupant[], limits: BookingLimits, who: Party = CALLER): AppError | null {
  if (mine.length < limits.maxBookingsPerService) return null;
  return new AppError(
    "conflict",
    `${who.alreadyHas} ${mine.length} open sessions or bookings on this service; at most ${limits.maxBookingsPerService} at once — end or cancel one first`,
    { limit: limits.maxBookingsPerService, open: mine.length },
  );
}

/**
 * Why the caller may not book `span` on a service, or null: the window starts past the booking
 * horizon (400), they already have the most open sessions allowed there (409), or the window
 * joins their own windows into one longer hold than the service's maximum (409) — six back-to-back
 * windows of the maximum are one hold six times too long. A gap shorter than the shortest session
 * anyone could take in between counts as no gap.
 */
export function bookingLimitProblem(
  ctx: DbContext,
  mine: Occupant[],
  service: { id: string; maxDurationSeconds: number },
  span: [Date, Date],
  limits: BookingLimits,
  who: Party = CALLER,
): AppError | null {
  const now = ctx.now();
  const horizon = new Date(now.getTime() + limits.maxBookingDays * 86_400_000);
  if (span[0] > horizon) {
    return badField("body.startsAt", `must be at most ${limits.maxBookingDays} days from now (before ${horizon.toISOString()})`);
  }
  const tooMany = bookingCountProblem(mine, limits, who);
  if (tooMany) return tooMany;
  const slack = limits.minSessionSeconds * 1000;
  const windows = mine.map((s) => heldSpan(s, now)).filter(([, to]) => to.getTime() < FOREVER.getTime());
  let [from, to] = span;
  // Grows the hold until no other window of theirs touches it (windows may chain on either side).
  for (let grew = true; grew; ) {
    grew = false;
    for (const [a, b] of windows) {
      if (a.getTime() <= to.getTime() + slack && b.getTime() >= from.getTime() - slack && (a < from || b > to)) {
        if (a < from) from = a;
        if (b > to) to = b;
        grew = true;
      }
    }
  }
  const held = Math.round((to.getTime() - from.getTime()) / 1000);
  if (held > service.maxDurationSeconds) {
    return new AppError(
      "conflict",
      `with ${who.their} adjacent windows this would hold the service for ${held} seconds in a row (${from.toISOString()} to ${to.toISOString()}), past its maximum of ${service.maxDurationSeconds} seconds`,
      { heldSeconds: held, maxDurationSeconds: service.maxDurationSeconds },
    );
  }
  return null;
}

/**
 * Why a request being approved or an offer being accepted may not take `span` now, or null. Its
 * window was judged when it was asked for, but it starts when decided: it is judged again against
 * what the person holds or has booked on the service. Their other requests and waitlist places
 * hold nothing yet; each is judged when it is decided.
 */
export async function decidedWindowProblem(
  ctx: DbContext,
  sql: SqlRunner,
  session: { id: string; userId: string; serviceId: string },
  service: { id: string; maxDurationSeconds: number },
  span: [Date, Date],
  limits: BookingLimits,
  who: Party,
): Promise<AppError | null> {
  const others = await ownOpenSessions(sql, session.userId, session.serviceId, session.id);
  return besideOwnProblem(ctx, others, service, span, limits, who);
}

/**
 * Why the party may not hold `span` beside their other open sessions on the service, or null: it
 * runs into one, or joins them into one hold past the service's maximum. Their requests and
 * waitlist places hold nothing yet; each is judged when it is decided. For an approval, an offer
 * accepted, and an extension (whose span runs from now, as its own limit does).
 */
export function besideOwnProblem(
  ctx: DbContext,
  others: Occupant[],
  service: { id: string; maxDurationSeconds: number },
  span: [Date, Date],
  limits: BookingLimits,
  who: Party,
): AppError | null {
  const holding = others.filter((s) => s.status !== "pending" && s.status !== "waiting");
  return ownConflict(ctx, holding, span, who) ?? bookingLimitProblem(ctx, holding, service, span, limits, who);
}

/**
 * Starts every booked session whose window has opened, each in a plain-SQL change with the
 * session's row locked (PostgreSQL; SQLite's transactions run one at a time), so with several API
 * instances exactly one starts it and records it. A window that closed entirely while the API was
 * down is recorded as expired, not started. A holder who may no longer see the service is revoked
 * instead of let in (`revokeIfLost`).
 */
export async function startDueScheduled(ctx: DbContext): Promise<number> {
  const now = ctx.now();
  let moved = 0;
  for (const id of await dueSessionIds(ctx, "scheduled", now)) {
    const outcome = await runSqlChange(ctx, SYSTEM, async (sql, record) => {
      // The service's rules first (the order every session change locks in): its maximum now.
      const service = await lockServiceRules(ctx, sql, id, "session");
      const session = await lockSession(ctx, sql, id);
      if (!service || session?.status !== "scheduled" || !session.startsAt || session.startsAt > now) return "none";
      if (!(await holderMaySeeNow(sql, session.userId, session.serviceId))) return "revoke";
      const missed = session.expiresAt !== null && session.expiresAt <= now;
      // A maximum lowered since the booking holds from its start: the window is cut to it.
      const longest = new Date(now.getTime() + service.maxDurationSeconds * 1000);
      const cut = !missed && session.expiresAt !== null && session.expiresAt > longest;
      const change = missed
        ? { status: "expired", endedAt: session.expiresAt }
        : cut
          ? { status: "active", startedAt: now, expiresAt: longest, durationSeconds: service.maxDurationSeconds }
          : { status: "active", startedAt: now };
      updateSession(sql, id, change);
      const row = presentSession({ ...session, ...change });
      if (missed) record({ type: "session.expired", session: row, missed: true });
      else {
        const details = { lateMs: now.getTime() - session.startsAt.getTime(), ...(cut ? { cutToMaximumSeconds: service.maxDurationSeconds } : {}) };
        record({ type: "session.started", session: row, via: "schedule" }, { details });
      }
      return "moved";
    });
    if (outcome === "moved" || (outcome === "revoke" && (await revokeIfLost(ctx, SYSTEM, id, "scheduled")))) moved += 1;
  }
  return moved;
}
