// Changes refused before any transaction opens: the common refusals (a double click, a script
// that retries, a service someone else holds, a window longer than the service allows), for which
// a transaction would take the writer's turn and several statements for nothing. A start that the
// board in memory shows refused (the window asked for, the caller's own clash or booking limit, the
// exclusive service's holder, booking or line) is refused from memory; one on a service the board
// does not show, after one plain read whose answer is remembered. An end or extend of a session
// the caller may not change, or of one that is closed, likewise (at the end of this file), and an
// extension into someone's booking. The board is this instance's view of committed state:
// brought up to date at every local commit before the change answers, and by every other
// instance's change as it arrives from the live log. Anything it does not refuse is checked
// again, with the rows locked, in the transaction.
import { isOpenStatus, type TSession, type TStartSessionBody } from "@postern/contracts";
import { AppError, notFound } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import type { BoardCache, BoardView, ClosedSession } from "../board/board.cache";
import { olderRequestFirst } from "../board/board.view";
import type { VisibilityClass } from "../live/live.audience";
import { canSeeService, type Viewer } from "../services/services.visibility";
import { occupantOf } from "./sessions.presenter";
import { besideOwnProblem, bookingLimitProblem, conflictAmong, endPassed, exclusiveStatuses, ownConflict, type Occupant } from "./sessions.schedule";
import { committedServiceGroups, committedSession } from "./sessions.sql";
import {
  endStatusRefusal,
  extendRefusal,
  notActiveRefusal,
  notHolderRefusal,
  notPendingRefusal,
  partyOf,
  windowOrRefusal,
  type SessionLimits,
} from "./sessions.service";

/**
 * The refusal the transaction would answer a start with, when the board shows the service to the
 * caller: its checks in its order, on the board's copy of the service and of the open sessions
 * on it. The window asked for (a 400: too short, past the service's maximum, a booking in the past
 * or too far ahead), the caller's own clash or booking limit (409, or 400), then on an exclusive
 * service whoever holds it, is offered it, has booked the window or waits in line for it (409,
 * naming them). Null when none applies, or when a session it would judge is past its end and the
 * session clock's to close any moment now: the transaction closes those as the clock would and
 * judges what is left.
 */
export function startRefusalOnBoard(
  ctx: DbContext,
  view: BoardView,
  userId: string,
  serviceId: string,
  body: TStartSessionBody,
  limits: SessionLimits,
): AppError | null {
  const service = view.byId.get(serviceId);
  if (!service) return null;
  const window = windowOrRefusal(ctx, service, body, limits);
  if (window instanceof AppError) return window;
  const { now, startsAt, span } = window;
  const mine = occupantsOf(view.sessionsOf(serviceId, userId), now);
  if (!mine) return null;
  const refusal = ownConflict(ctx, mine, span) ?? bookingLimitProblem(ctx, mine, service, span, limits);
  if (refusal || !service.exclusive || (service.requiresApproval && !startsAt)) return refusal;
  return exclusiveRefusalOnBoard(view, serviceId, span, now, span[0] <= now);
}

/** `exclusiveConflict`'s answer from the board's copy of the service's occupants (but `exceptId`);
 * null when there is none, or when one is past its end (the clock's to close). */
function exclusiveRefusalOnBoard(view: BoardView, serviceId: string, span: [Date, Date], now: Date, lineBlocks: boolean, exceptId?: string): AppError | null {
  const statuses = exclusiveStatuses(lineBlocks);
  // In the transaction's order: oldest request first, then by id.
  const on = view.sessionsOn(serviceId).filter((s) => s.id !== exceptId && statuses.includes(s.status));
  const found = occupantsOf(on.sort(olderRequestFirst), now);
  return found && conflictAmong(found, span, now, lineBlocks);
}

/** The board's sessions as the transaction's occupants; null if one is past its end (the clock's to close). */
function occupantsOf(sessions: readonly TSession[], now: Date): Occupant[] | null {
  const found: Occupant[] = [];
  for (const s of sessions) {
    const o = occupantOf(s);
    if (endPassed(o, now)) return null;
    found.push(o);
  }
  return found;
}

/**
 * The 404 for a start on a service the caller's board does not show, when committed state bears it
 * out; else null. The board may only be behind (a service made or shared a moment ago on another
 * instance), so it does not refuse by itself: one plain read does, with the transaction's answer,
 * and without a write transaction (a turn of SQLite's one writer, a pooled PostgreSQL
 * transaction) for a service that is gone or hidden: a stale script, someone trying ids. The cache
 * remembers that answer for the class until a change that could show the service (board.cache.ts),
 * so a script retrying costs no read either. A service the read shows the caller goes on to the
 * transaction, which checks again with its row locked.
 */
export function unseenServiceRefusal(ctx: DbContext, cache: BoardCache, cls: VisibilityClass, viewer: Viewer, serviceId: string): AppError | Promise<AppError | null> {
  // Remembered: answered at once, with no promise.
  if (cache.isUnseen(cls, serviceId)) return notFound("service");
  const remember = cache.unseenRecorder(cls);
  return committedServiceGroups(ctx, serviceId).then((groupIds) => {
    if (groupIds && canSeeService(viewer, groupIds)) return null;
    remember(serviceId);
    return notFound("service");
  });
}

const SESSION_NOT_FOUND = notFound("session");

/** A change to one session that the route may refuse before its transaction. */
export type SessionChange = "end" | "extend";

/**
 * The 404, 403 or 409 the transaction would answer an end or an extend of `sessionId` with,
 * whatever the body says, when the board, the memory of closed sessions (board.cache.ts) or one
 * plain read settles it; else null, and the transaction judges. An open session on the board is
 * refused only when the caller may not change it (its holder never changes), or it is an
 * extension of one not active (waiting for approval, booked, in line, offered). A closed one is
 * refused outright: it never opens again. One the board does not show may be closed, unknown,
 * hidden from the caller, or started a moment ago on another instance: one read of committed
 * state tells which, without a write transaction (on SQLite, a turn of its one writer), and a
 * closed or unknown one is remembered, so a script retrying costs no read either.
 */
export function sessionChangeRefusal(
  ctx: DbContext,
  cache: BoardCache,
  view: BoardView,
  viewer: Viewer,
  sessionId: string,
  change: SessionChange,
): AppError | null | Promise<AppError | null> {
  const open = view.session(sessionId);
  if (open) return openRefusal(viewer, open, change);
  const closed = cache.closedSession(sessionId);
  if (closed === null) return SESSION_NOT_FOUND;
  // The board holds every service the caller's class sees.
  if (closed) return closedRefusal(viewer, view.byId.has(closed.serviceId), closed, change);
  const remember = cache.closedRecorder();
  return committedSession(ctx, sessionId).then((found) => {
    if (!found) {
      remember(sessionId, null);
      return SESSION_NOT_FOUND;
    }
    const { groupIds, ...session } = found;
    const visible = canSeeService(viewer, groupIds);
    if (isOpenStatus(session.status)) return visible ? openRefusal(viewer, session, change) : SESSION_NOT_FOUND;
    remember(sessionId, session);
    return closedRefusal(viewer, visible, session, change);
  });
}

/**
 * The transaction's answer to a change of an open session as far as neither the body nor the
 * clock settles it: someone else's, or an extension of one not active (an active one past its
 * end is the clock's to close, and the transaction's to refuse).
 */
function openRefusal(viewer: Viewer, session: { userId: string; status: string }, change: SessionChange): AppError | null {
  return notHolderRefusal(viewer, session.userId) ?? (change === "extend" && session.status !== "active" ? notActiveRefusal(session.status) : null);
}

/**
 * The 404 or 409 the transaction would answer an approval or a denial of `sessionId` with, when
 * the board or the memory of closed sessions settles it (a second click on "Approve", a decision
 * someone else made first); else null. An admin's board shows every open session.
 */
export function decisionRefusalOnBoard(cache: BoardCache, view: BoardView, sessionId: string): AppError | null {
  const open = view.session(sessionId);
  if (open) return open.status === "pending" ? null : notPendingRefusal(open.status);
  const closed = cache.closedSession(sessionId);
  if (closed === null) return SESSION_NOT_FOUND;
  return closed ? notPendingRefusal(closed.status) : null;
}

/** The transaction's answer to a change of a closed session, in its order of checks. */
function closedRefusal(viewer: Viewer, visible: boolean, session: ClosedSession, change: SessionChange): AppError {
  if (!visible) return SESSION_NOT_FOUND;
  return notHolderRefusal(viewer, session.userId) ?? (change === "end" ? endStatusRefusal(session.status)! : notActiveRefusal(session.status));
}

/**
 * The 400 for extending, by `durationSeconds`, an active session the board shows the caller may
 * change (too short, or past the service's maximum ahead), or on an exclusive service the 409
 * for running into someone's booking or offer: the transaction's own rules, on the board's copy
 * of the session and of the service's occupants. Null otherwise; a session that is not active,
 * or is past its end and about to be closed by the clock (or has such an occupant in its way), is
 * the transaction's to judge.
 */
export function extendRefusalOnBoard(
  ctx: DbContext,
  view: BoardView,
  viewer: Viewer,
  sessionId: string,
  durationSeconds: number,
  limits: SessionLimits,
): AppError | null {
  const open = view.session(sessionId);
  const service = open && view.byId.get(open.serviceId);
  if (!open || !service || open.status !== "active") return null;
  const session = occupantOf(open);
  const now = ctx.now();
  if (!session.expiresAt || session.expiresAt <= now) return null;
  const refusal = notHolderRefusal(viewer, open.userId) ?? extendRefusal(now, session, service.maxDurationSeconds, durationSeconds, limits);
  if (refusal) return refusal;
  const span: [Date, Date] = [now, new Date(session.expiresAt.getTime() + durationSeconds * 1000)];
  const others = occupantsOf(view.sessionsOf(open.serviceId, open.userId).filter((s) => s.id !== sessionId), now);
  if (!others) return null;
  const beside = besideOwnProblem(ctx, others, service, span, limits, partyOf(viewer, open.user));
  if (beside || !service.exclusive) return beside;
  return exclusiveRefusalOnBoard(view, open.serviceId, span, now, false, sessionId);
}
