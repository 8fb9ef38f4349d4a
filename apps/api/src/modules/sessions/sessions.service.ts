// Access sessions: start (now or booked for later), extend, end, approve, deny and expire. Each
// runs in one change (run-change.ts) that records its event; exclusive services are locked per
// service so two starts cannot both win. Lock order everywhere: the Service row, then the
// AccessSession row.
import { isOpenStatus, type TListSessionsQuery, type TStartSessionBody } from "@postern/contracts";
import type { SqlRunner } from "@postern/db";
import { AppError, badField, forbidden, notFound } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import { runSqlChange, SYSTEM, type Origin, type RecordEvent } from "../../lib/run-change";
import { actorUserId } from "../audit/audit.service";
import { canSeeService, viewerGroupIds, type Viewer } from "../services/services.visibility";
import { revokeIfLost } from "./revocation";
import { presentSession, type SessionRow } from "./sessions.presenter";
import {
  besideOwnProblem,
  bookingLimitProblem,
  CALLER,
  decidedWindowProblem,
  endPassed,
  exclusiveConflict,
  ownConflict,
  ownOpenSessions,
  requester,
  type BookingLimits,
  type Occupant,
  type Party,
} from "./sessions.schedule";
import { holderMaySeeNow, insertSession, listSessions, lockServiceRules, lockSession, updateSession } from "./sessions.sql";
import { dueSessionIds, dueStaleRequestIds, windowEnd } from "./session-clock.sql";
import { doorAddress } from "./door-address";
import { fromBoardOr, sessionShown, startShown, type LoadFacts, type SessionFacts, type StartFacts } from "./sessions.guarded";
import type { BoardView } from "../board/board.cache";

export interface SessionCaller {
  viewer: Viewer;
  origin: Origin;
}

export type SessionLimits = BookingLimits;

/** The limits sessions obey, from the configuration. */
export function sessionLimitsOf(config: SessionLimits): SessionLimits {
  return { minSessionSeconds: config.minSessionSeconds, maxBookingDays: config.maxBookingDays, maxBookingsPerService: config.maxBookingsPerService };
}

/** How many sessions a list answers with when the caller does not say. */
export const DEFAULT_LIMIT = 200;

export function findSessions(ctx: DbContext, viewer: Viewer, query: TListSessionsQuery): Promise<SessionRow[]> {
  return listSessions(
    ctx,
    {
      groupIds: viewer.admin ? null : viewerGroupIds(viewer),
      open: query.active === undefined ? undefined : query.active === "true",
      serviceId: query.serviceId,
      userId: query.mine === "true" ? viewer.user.id : query.userId,
    },
    query.limit ?? DEFAULT_LIMIT,
  );
}

export function checkDuration(seconds: number, service: { maxDurationSeconds: number }, limits: SessionLimits, field: string) {
  const refusal = durationRefusal(seconds, service, limits, field);
  if (refusal) throw refusal;
}

/** The 400 for a length the install or the service does not allow; null when it is allowed. */
function durationRefusal(seconds: number, service: { maxDurationSeconds: number }, limits: SessionLimits, field: string): AppError | null {
  if (seconds < limits.minSessionSeconds) return badField(field, `must be at least ${limits.minSessionSeconds} seconds`);
  if (seconds > service.maxDurationSeconds) return badField(field, `must not exceed the service's maximum of ${service.maxDurationSeconds} seconds`);
  return null;
}

export const after = (from: Date, seconds: number) => new Date(from.getTime() + seconds * 1000);

/** The window a start asks for: its length, its booked start and the span it claims. */
export interface RequestedWindow {
  now: Date;
  durationSeconds: number;
  startsAt: Date | null;
  span: [Date, Date];
}

/** The window a start asks for on `service`; throws the 400 for bad input. */
export function requestedWindow(
  ctx: DbContext,
  service: { defaultDurationSeconds: number; maxDurationSeconds: number },
  body: TStartSessionBody,
  limits: SessionLimits,
): RequestedWindow {
  const window = windowOrRefusal(ctx, service, body, limits);
  if (window instanceof AppError) throw window;
  return window;
}

/** The window a start asks for on `service`, or the 400 for bad input (returned: the board's
 * refusal of it, sessions.preflight.ts, is on a hot path, and a throw is not free). */
export function windowOrRefusal(
  ctx: DbContext,
  service: { defaultDurationSeconds: number; maxDurationSeconds: number },
  body: TStartSessionBody,
  limits: SessionLimits,
): RequestedWindow | AppError {
  const durationSeconds = body.durationSeconds ?? service.defaultDurationSeconds;
  const refusal = durationRefusal(durationSeconds, service, limits, "body.durationSeconds");
  if (refusal) return refusal;
  const now = ctx.now();
  const startsAt = body.startsAt ? new Date(body.startsAt) : null;
  if (startsAt && startsAt <= now) return badField("body.startsAt", "must be in the future");
  return { now, durationSeconds, startsAt, span: [startsAt ?? now, after(startsAt ?? now, durationSeconds)] };
}

/**
 * Starts (or books, or asks for) a session. On PostgreSQL, with the caller's board at hand, in one
 * round trip when the board shows the service (sessions.guarded.ts).
 */
export async function startSession(
  ctx: DbContext,
  caller: SessionCaller,
  serviceId: string,
  body: TStartSessionBody,
  limits: SessionLimits,
  board?: BoardView,
): Promise<SessionRow> {
  const userId = caller.viewer.user.id;
  const locked: LoadFacts<StartFacts> = async (sql) => {
    // Both in one round trip; the second runs once the first holds the service's lock.
    const [service, mine] = await Promise.all([lockServiceRules(ctx, sql, serviceId), ownOpenSessions(sql, userId, serviceId)]);
    return service && { service, mine };
  };
  return fromBoardOr(startShown(ctx, board, userId, serviceId), locked, (load) => start(ctx, caller, serviceId, body, limits, load));
}

async function start(
  ctx: DbContext,
  caller: SessionCaller,
  serviceId: string,
  body: TStartSessionBody,
  limits: SessionLimits,
  load: LoadFacts<StartFacts>,
): Promise<SessionRow> {
  return runSqlChange(ctx, caller.origin, async (sql, record) => {
    const user = caller.viewer.user;
    const facts = await load(sql);
    if (!facts || !canSeeService(caller.viewer, facts.service.groupIds)) throw notFound("service");
    const { service } = facts;
    const sourceIp = doorAddress(service.gatewayAgentId, body.sourceIp, caller.origin.sourceIp);
    const { now, durationSeconds, startsAt, span } = requestedWindow(ctx, service, body, limits);
    const mine = await withoutDue(ctx, sql, record, facts.mine, now);
    const clash = ownConflict(ctx, mine, span);
    if (clash) throw clash;
    const limited = bookingLimitProblem(ctx, mine, service, span, limits);
    if (limited) throw limited;
    const pending = service.requiresApproval;
    // A request for approval now is checked at approval, when the holder may be gone; a booked
    // window is checked now as well, because the booking is what people plan around.
    if (service.exclusive && (!pending || startsAt)) {
      const conflict = await exclusiveConflict(ctx, sql, serviceId, span, { queueBlocks: true, closeDue: closingDue(ctx, sql, record, now) });
      if (conflict) throw conflict;
    }
    const status = pending ? "pending" : startsAt ? "scheduled" : "active";
    const data = {
      serviceId,
      userId: user.id,
      status,
      reason: body.reason || null,
      sourceIp,
      durationSeconds,
      requestedAt: now,
      startsAt,
      startedAt: status === "active" ? now : null,
      expiresAt: status === "pending" ? null : span[1],
    };
    const session = insertSession(sql, data, user);
    const presented = presentSession(session);
    const audience = { groupIds: service.groupIds };
    if (status === "pending") record({ type: "session.requested", session: presented }, { audience });
    else if (status === "scheduled") record({ type: "session.scheduled", session: presented }, { audience });
    else record({ type: "session.started", session: presented, via: "request" }, { audience });
    return session;
  });
}

/** A session and its service, read under their locks. */
export function lockedSession(ctx: DbContext, sessionId: string): LoadFacts<SessionFacts> {
  return async (sql) => {
    // The service's lock first, then the session's: the order every writer takes them in. One
    // round trip: PostgreSQL runs the second once the first has its lock.
    const [service, session] = await Promise.all([lockServiceRules(ctx, sql, sessionId, "session"), lockSession(ctx, sql, sessionId)]);
    return service && session && { service, session };
  };
}

// The refusals of an extend or an end, in the order the transaction checks them. The route asks
// them too, of the board or one plain read, before any transaction (sessions.preflight.ts): one
// rule each, so the two cannot answer differently.

// Made once each (an AppError is never changed once made): a script that retries gets the same
// refusal, whose envelope lib/refuse.ts then keeps.
const NOT_HOLDER = forbidden("only the session's holder or an admin may change it");
const byStatus = (make: (status: string) => AppError) => {
  const made = new Map<string, AppError>();
  return (status: string) => {
    let err = made.get(status);
    if (!err) made.set(status, (err = make(status)));
    return err;
  };
};
const alreadyClosed = byStatus((status) => new AppError("conflict", `the session is already ${status}`));

/** 403 unless the caller holds the session or is an admin (after the 404 for a session they cannot see). */
export function notHolderRefusal(viewer: Viewer, holderId: string): AppError | null {
  return holderId !== viewer.user.id && !viewer.admin ? NOT_HOLDER : null;
}

/** 409 for an end of a session that is no longer open. */
export function endStatusRefusal(status: string): AppError | null {
  return isOpenStatus(status) ? null : alreadyClosed(status);
}

/** Whose sessions a refusal about the holder's own speaks of: the caller's, or the holder's to an admin. */
export const partyOf = (viewer: Viewer, holder: { id: string; username: string }): Party =>
  viewer.user.id === holder.id ? CALLER : requester(holder.username);

/** 409 for an extend of a session that is not active. */
export const notActiveRefusal = byStatus((status) => new AppError("conflict", `only an active session can be extended; this one is ${status}`));

/** 409 for an approval or a denial of a session that is not waiting for one. */
export const notPendingRefusal = byStatus((status) => new AppError("conflict", `the session is ${status}, not pending`));

/** The 409 or 400 for extending a session by `durationSeconds` at `now`, or null. */
export function extendRefusal(
  now: Date,
  session: { status: string; expiresAt: Date | null },
  maxDurationSeconds: number,
  durationSeconds: number,
  limits: SessionLimits,
): AppError | null {
  if (session.status !== "active" || !session.expiresAt || session.expiresAt <= now) return notActiveRefusal(session.status);
  if (durationSeconds < limits.minSessionSeconds) {
    return badField("body.durationSeconds", `must be at least ${limits.minSessionSeconds} seconds`);
  }
  // The maximum bounds how far ahead a session may run: at no moment does anyone hold a
  // service for more than the maximum from now.
  const ahead = Math.ceil((session.expiresAt.getTime() + durationSeconds * 1000 - now.getTime()) / 1000);
  if (ahead > maxDurationSeconds) {
    const allowed = Math.max(0, maxDurationSeconds - Math.ceil((session.expiresAt.getTime() - now.getTime()) / 1000));
    return badField(
      "body.durationSeconds",
      `would run the session ${ahead} seconds from now, past the service's maximum of ${maxDurationSeconds}; at most ${allowed} more seconds are allowed now`,
    );
  }
  return null;
}

/** A session the caller may see and may change (their own, or any as an admin), with its service. */
async function loadOwnOrAdmin(sql: SqlRunner, viewer: Viewer, load: LoadFacts<SessionFacts>): Promise<SessionFacts> {
  const facts = await load(sql);
  if (!facts || !canSeeService(viewer, facts.service.groupIds)) throw notFound("session");
  const refusal = notHolderRefusal(viewer, facts.session.userId);
  if (refusal) throw refusal;
  return facts;
}

/** Extends an active session; on PostgreSQL in one round trip when the board shows it (sessions.guarded.ts). */
export async function extendSession(
  ctx: DbContext,
  caller: SessionCaller,
  sessionId: string,
  durationSeconds: number,
  limits: SessionLimits,
  board?: BoardView,
): Promise<SessionRow> {
  const shown = sessionShown(ctx, board, sessionId, { exclusive: false, holderAlone: true });
  return fromBoardOr(shown, lockedSession(ctx, sessionId), (load) => extend(ctx, caller, sessionId, durationSeconds, limits, load));
}

async function extend(
  ctx: DbContext,
  caller: SessionCaller,
  sessionId: string,
  durationSeconds: number,
  limits: SessionLimits,
  load: LoadFacts<SessionFacts>,
): Promise<SessionRow> {
  return runSqlChange(ctx, caller.origin, async (sql, record) => {
    const { session, service, holderOthers } = await loadOwnOrAdmin(sql, caller.viewer, load);
    const now = ctx.now();
    const refusal = extendRefusal(now, session, service.maxDurationSeconds, durationSeconds, limits);
    if (refusal) throw refusal;
    const expiresAt = new Date(session.expiresAt!.getTime() + durationSeconds * 1000);
    const others = holderOthers ?? (await ownOpenSessions(sql, session.userId, session.serviceId, sessionId));
    const beside = besideOwnProblem(ctx, others, service, [now, expiresAt], limits, partyOf(caller.viewer, session.user));
    if (beside) throw beside;
    if (service.exclusive) {
      const closeDue = closingDue(ctx, sql, record, now);
      const conflict = await exclusiveConflict(ctx, sql, session.serviceId, [now, expiresAt], { exceptId: sessionId, closeDue });
      if (conflict) throw conflict;
    }
    const updated: SessionRow = { ...session, expiresAt, durationSeconds: session.durationSeconds + durationSeconds };
    updateSession(sql, sessionId, { expiresAt, durationSeconds: updated.durationSeconds });
    record({ type: "session.extended", session: presentSession(updated), addedSeconds: durationSeconds }, { audience: { groupIds: service.groupIds } });
    return updated;
  });
}

/**
 * Ends a session early; by an admin on someone else's session this is a force-end. On PostgreSQL
 * in one round trip when the board shows it (sessions.guarded.ts).
 */
export async function endSession(ctx: DbContext, caller: SessionCaller, sessionId: string, board?: BoardView): Promise<SessionRow> {
  const shown = sessionShown(ctx, board, sessionId, { exclusive: true });
  return fromBoardOr(shown, lockedSession(ctx, sessionId), (load) => end(ctx, caller, load));
}

async function end(ctx: DbContext, caller: SessionCaller, load: LoadFacts<SessionFacts>): Promise<SessionRow> {
  return runSqlChange(ctx, caller.origin, async (sql, record) => {
    const { session, service } = await loadOwnOrAdmin(sql, caller.viewer, load);
    const refusal = endStatusRefusal(session.status);
    if (refusal) throw refusal;
    const user = caller.viewer.user;
    const forced = session.userId !== user.id;
    const updated: SessionRow = { ...session, status: "ended", endedAt: ctx.now(), endedById: user.id, endedBy: { id: user.id, username: user.username } };
    updateSession(sql, session.id, { status: "ended", endedAt: updated.endedAt, endedById: user.id });
    record(
      { type: forced ? "session.force_ended" : "session.ended", session: presentSession(updated) },
      { details: { previousStatus: session.status }, audience: { groupIds: service.groupIds } },
    );
    return updated;
  });
}

/** The requester of a decided request could no longer see the service: the request ended. */
export class RequesterLostAccess extends AppError {
  constructor(readonly session: SessionRow) {
    super("conflict", "the requester may no longer see this service; the request was ended");
  }
}

/**
 * An admin decides on a pending request. On approval the clock starts now, not at the request;
 * a request for a later window becomes `scheduled` and starts when its window opens (or now, for
 * its full length, if the window's start has already passed). A requester who has lost sight of
 * the service meanwhile gets nothing: the request is revoked and the admin told (409). A window
 * that now clashes with the requester's own other sessions, or joins them into a hold past the
 * service's maximum, is refused (409) and stays pending: the admin may deny it.
 */
export async function decideSession(
  ctx: DbContext,
  caller: SessionCaller,
  sessionId: string,
  approve: boolean,
  limits: SessionLimits,
): Promise<SessionRow> {
  if (!caller.viewer.admin) throw forbidden("only admins approve or deny requests");
  for (let attempt = 1; ; attempt++) {
    const outcome = await decide(ctx, caller, sessionId, approve, limits);
    if (outcome !== "lost") return outcome;
    const revoked = await revokeIfLost(ctx, caller.origin, sessionId, "pending");
    if (revoked) throw new RequesterLostAccess(revoked);
    // The requester's right came back, or someone decided first, between the two transactions:
    // decide again, which answers either way. Twice at most: the right does not flicker.
    if (attempt === 2) throw new AppError("conflict", "the requester's access changed while deciding; try again");
  }
}

/** Why a request can no longer be approved as it was asked, or null: its whole window has
 * passed (a booking starts at its time or, late, now; one whose end has gone by would start a
 * window nobody asked for), or the service's maximum was lowered below its length since. The admin
 * denies it; the requester asks again. */
function staleRequestProblem(
  session: { startsAt: Date | null; durationSeconds: number },
  service: { maxDurationSeconds: number },
  now: Date,
): AppError | null {
  // The same instant the clock expires the request at (windowEnd), so the two never disagree.
  const ends = session.startsAt && windowEnd({ startsAt: session.startsAt, durationSeconds: session.durationSeconds });
  if (session.startsAt && ends && ends <= now) {
    return new AppError("conflict", `the requested window (${session.startsAt.toISOString()} to ${ends.toISOString()}) has passed; deny the request`);
  }
  if (session.durationSeconds > service.maxDurationSeconds) {
    return new AppError(
      "conflict",
      `the request is for ${session.durationSeconds} seconds, past the service's maximum of ${service.maxDurationSeconds} seconds; deny the request`,
      { durationSeconds: session.durationSeconds, maxDurationSeconds: service.maxDurationSeconds },
    );
  }
  return null;
}

/** The decision in one plain-SQL change, or "lost" when the requester may no longer see the service. */
async function decide(ctx: DbContext, caller: SessionCaller, sessionId: string, approve: boolean, limits: SessionLimits): Promise<SessionRow | "lost"> {
  return runSqlChange(ctx, caller.origin, async (sql, record) => {
    const facts = await lockedSession(ctx, sessionId)(sql);
    if (!facts) throw notFound("session");
    const { session, service } = facts;
    if (session.status !== "pending") throw notPendingRefusal(session.status);
    if (approve && !(await holderMaySeeNow(sql, session.userId, session.serviceId))) return "lost";
    const now = ctx.now();
    const later = session.startsAt !== null && session.startsAt > now;
    const from = later && session.startsAt ? session.startsAt : now;
    const span: [Date, Date] = [from, after(from, session.durationSeconds)];
    if (approve) {
      const stale = staleRequestProblem(session, service, now);
      if (stale) throw stale;
      const problem = await decidedWindowProblem(ctx, sql, session, service, span, limits, requester(session.user.username));
      if (problem) throw problem;
    }
    if (approve && service.exclusive) {
      const closeDue = closingDue(ctx, sql, record, now);
      const conflict = await exclusiveConflict(ctx, sql, session.serviceId, span, { exceptId: sessionId, queueBlocks: true, closeDue });
      if (conflict) throw conflict;
    }
    const decided = { decidedById: actorUserId(caller.origin.actor), decidedAt: now };
    const change = approve
      ? { status: later ? "scheduled" : "active", startedAt: later ? null : now, expiresAt: span[1], ...decided }
      : { status: "denied", endedAt: now, ...decided };
    updateSession(sql, sessionId, change);
    const updated: SessionRow = { ...session, ...change };
    record(
      { type: approve ? "session.approved" : "session.denied", session: presentSession(updated) },
      { audience: { groupIds: service.groupIds } },
    );
    return updated;
  });
}

/**
 * Ends, as `expired` at the instant it fell due, every session in `status` whose expiry (an active
 * session's) or offer (an offered one's) has passed. Safe to run from several API instances at
 * once: each session is checked again with its row locked (PostgreSQL; SQLite's transactions run
 * one at a time), so only one instance records it.
 */
export async function closeDueSessions(ctx: DbContext, status: "active" | "offered"): Promise<number> {
  const now = ctx.now();
  let closed = 0;
  for (const id of await dueSessionIds(ctx, status, now)) {
    if (await runSqlChange(ctx, SYSTEM, (sql, record) => closeIfDue(ctx, sql, record, id, status, now))) closed += 1;
  }
  return closed;
}

/** Expires session `id`, in the change `sql` and `record` belong to, if it is still `status` and
 * its expiry (or offer) has passed at `now`: ended at that instant. Whether it did. */
async function closeIfDue(ctx: DbContext, sql: SqlRunner, record: RecordEvent, id: string, status: "active" | "offered", now: Date): Promise<boolean> {
  const session = await lockSession(ctx, sql, id);
  const endedAt = session?.status === status && endPassed(session, now);
  if (!session || !endedAt) return false;
  updateSession(sql, id, { status: "expired", endedAt });
  const closedRow = presentSession({ ...session, status: "expired", endedAt });
  const event = status === "active" ? { type: "session.expired" as const, session: closedRow } : { type: "session.offer_expired" as const, session: closedRow };
  record(event, { system: true });
  return true;
}

/**
 * The open sessions given (the caller's own, or the occupants of an exclusive service) but those
 * past their end, which are closed first in the change (`sql`, `record`), as the clock would close
 * them any moment now: a start sent the instant a session ran out (a script that saw its door
 * close, a second click, the next person) is judged on what is still open, not refused over a
 * session only the clock's timing keeps open.
 */
async function withoutDue(ctx: DbContext, sql: SqlRunner, record: RecordEvent, mine: Occupant[], now: Date): Promise<Occupant[]> {
  const due = (s: Occupant) => endPassed(s, now) !== null;
  if (!mine.some(due)) return mine;
  const open: Occupant[] = [];
  for (const s of mine) {
    // Not closed here only if the clock closed it first: the service's lock, which the caller
    // holds, keeps every other change away from its sessions.
    if (due(s)) await closeIfDue(ctx, sql, record, s.id, s.status === "active" ? "active" : "offered", now);
    else open.push(s);
  }
  return open;
}

/** `ExclusiveCheck.closeDue` for a change that takes or keeps an exclusive service at `now`: the
 * occupants past their end are closed in it (`withoutDue`), so an approval, an extension or an
 * accepted offer is not refused over a holder whose time ran out a moment before the clock came. */
export function closingDue(ctx: DbContext, sql: SqlRunner, record: RecordEvent, now: Date): (found: Occupant[]) => Promise<Occupant[]> {
  return (found) => withoutDue(ctx, sql, record, found, now);
}

/**
 * Expires every pending request whose whole window (its booked start plus its length) has passed
 * undecided: approval refuses it (`staleRequestProblem`), so it would only crowd the approval list
 * and its requester's board until an admin denied it. Ended as `expired` at the instant its window
 * closed, recorded as the clock's `session.expired`. A request without a window (to start when
 * approved) never expires. As `closeDueSessions`, conditional under the session's row lock, so with
 * several API instances exactly one records it.
 */
export async function expireStaleRequests(ctx: DbContext): Promise<number> {
  const now = ctx.now();
  let expired = 0;
  for (const id of await dueStaleRequestIds(ctx, now)) {
    const done = await runSqlChange(ctx, SYSTEM, async (sql, record) => {
      const session = await lockSession(ctx, sql, id);
      if (session?.status !== "pending" || !session.startsAt) return false;
      const endedAt = windowEnd({ startsAt: session.startsAt, durationSeconds: session.durationSeconds });
      if (endedAt > now) return false;
      updateSession(sql, id, { status: "expired", endedAt });
      record({ type: "session.expired", session: presentSession({ ...session, status: "expired", endedAt }) }, { system: true, details: { previousStatus: "pending" } });
      return true;
    });
    if (done) expired += 1;
  }
  return expired;
}

/** Every active session whose expiry has passed, expired. */
export function expireDueSessions(ctx: DbContext): Promise<number> {
  return closeDueSessions(ctx, "active");
}
