// Starts refused before any transaction opens. One that the board in memory already shows
// clashing with the caller's own open session is refused from memory; one on a service the board
// does not show, after one plain read whose answer is remembered (below). It is the common
// refusal (a double click, a script that retries), and a transaction takes the writer's turn and
// three statements for nothing. The board is this instance's view of committed state: brought up
// to date at every local commit before the change answers, and by every other instance's change
// as it arrives from the live log. Anything it does not refuse is checked again, with the rows
// locked, in the transaction.
import type { TStartSessionBody } from "@postern/contracts";
import { notFound, type AppError } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import type { BoardCache, BoardView } from "../board/board.cache";
import type { VisibilityClass } from "../live/live.audience";
import { canSeeService, type Viewer } from "../services/services.visibility";
import { occupantOf } from "./sessions.presenter";
import { ownConflict, type Occupant } from "./sessions.schedule";
import { committedServiceGroups } from "./sessions.sql";
import { requestedWindow, type SessionLimits } from "./sessions.service";

/** The 409 the transaction would answer for the caller's own clash, when the board shows it and every earlier check passes; else null. */
export function ownClashOnBoard(
  ctx: DbContext,
  view: BoardView,
  userId: string,
  serviceId: string,
  body: TStartSessionBody,
  limits: SessionLimits,
): AppError | null {
  const service = view.byId.get(serviceId);
  if (!service) return null;
  let span: [Date, Date];
  try {
    span = requestedWindow(ctx, service, body, limits).span;
  } catch {
    // The transaction answers bad input, in its own order of checks.
    return null;
  }
  const mine: Occupant[] = [];
  const now = ctx.now().getTime();
  for (const s of view.sessionsOf(serviceId, userId)) {
    const o = occupantOf(s);
    // Past its end, an active session or an offer is the session clock's to close any moment now:
    // the transaction, which waits its turn behind the clock's, is the one to judge it.
    if ((o.status === "active" && o.expiresAt && o.expiresAt.getTime() <= now) || (o.status === "offered" && o.offerExpiresAt && o.offerExpiresAt.getTime() <= now)) return null;
    mine.push(o);
  }
  return mine.length === 0 ? null : ownConflict(ctx, mine, span);
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
