// A start that the board in memory already shows clashing with the caller's own open session is
// refused before any transaction opens. It is the common refusal (a double click, a script that
// retries), and a transaction takes the writer's turn and three statements for nothing. The board
// is this instance's view of committed state: brought up to date at every local commit before the
// change answers, and by every other instance's change as it arrives from the live log. Anything
// it does not refuse is checked again, with the rows locked, in the transaction.
import type { TStartSessionBody } from "@postern/contracts";
import type { AppError } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import type { BoardView } from "../board/board.cache";
import { ownConflict, type Occupant } from "./sessions.schedule";
import { requestedWindow, type SessionLimits } from "./sessions.service";

const dateOf = (iso: string | undefined) => (iso === undefined ? null : new Date(iso));

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
  const now = ctx.now().toISOString();
  for (const s of view.sessions) {
    if (s.serviceId !== serviceId || s.userId !== userId) continue;
    // Past its end, an active session or an offer is the session clock's to close any moment now:
    // the transaction, which waits its turn behind the clock's, is the one to judge it.
    if ((s.status === "active" && s.expiresAt !== undefined && s.expiresAt <= now) || (s.status === "offered" && s.offerExpiresAt !== undefined && s.offerExpiresAt <= now)) return null;
    mine.push({
      id: s.id,
      status: s.status,
      durationSeconds: s.durationSeconds,
      startsAt: dateOf(s.startsAt),
      expiresAt: dateOf(s.expiresAt),
      offerExpiresAt: dateOf(s.offerExpiresAt),
      user: { id: s.user.id, username: s.user.username, displayName: s.user.displayName ?? null },
    });
  }
  return mine.length === 0 ? null : ownConflict(ctx, mine, span);
}
