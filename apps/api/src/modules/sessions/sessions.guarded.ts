// A start, extend or end on PostgreSQL in one round trip, decided from the board. The usual way
// reads the service's rules and the session under their row locks, decides, then writes: two
// round trips, the locks held across the JavaScript between them. This instance's board already
// shows what that read would return, as a rule: it is brought up to date at every local commit
// and by every other instance's change. So the change is decided from the board and sent whole:
// BEGIN, the guard, the write, the append and the COMMIT. The guard (`postern_board_guard`,
// migration 20261130020000_board_guard) takes the same locks in the same order and raises unless
// the database holds exactly what the board showed; then nothing is written and the change is
// taken again the usual way. A change the board's facts would refuse is taken again too: the
// refusals the board settles for certain were answered before any transaction (the routes'
// preflight, sessions.preflight.ts); one found here is checked against the locked rows.
import { OPEN_STATUSES, type TService, type TSession } from "@postern/contracts";
import type { SqlRunner } from "@postern/db";
import { AppError } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import type { BoardView } from "../board/board.cache";
import { sessionRowOf, type SessionRow } from "./sessions.presenter";
import type { Occupant } from "./sessions.schedule";
import type { ServiceRules } from "./sessions.sql";

export type ServiceFacts = ServiceRules & { groupIds: string[] };

/** What a start decides on: the service's rules and groups, and the caller's own open sessions there. */
export interface StartFacts {
  service: ServiceFacts;
  mine: Occupant[];
}

/** What an extend or an end decides on: the session and its service; for an extend decided from
 * the board, the holder's other open sessions there (none, which the guard checks). */
export interface SessionFacts {
  service: ServiceFacts;
  session: SessionRow;
  holderOthers?: Occupant[];
}

/** Reads the facts a change decides on, in its transaction; undefined when there is no such row. */
export type LoadFacts<F> = (sql: SqlRunner) => Promise<F | undefined>;

/** The guard's SQLSTATE: the database does not hold what the board showed. */
const GUARD_FAILED = "PB001";

const OPEN_JSON = JSON.stringify(OPEN_STATUSES);

/** Facts shown on a board, and the guard that proves them in the transaction. */
export interface Shown<F> {
  facts: F;
  guard(sql: SqlRunner): void;
}

/**
 * Runs `change` on the facts the board shows, behind their guard; when the guard fails or the
 * change is refused, runs it again on the facts read under lock (`locked`). Only a refusal or the
 * guard's failure is taken again: both come before the COMMIT, so nothing of the first attempt
 * was written.
 */
export async function fromBoardOr<F, T>(shown: Shown<F> | undefined, locked: LoadFacts<F>, change: (load: LoadFacts<F>) => Promise<T>): Promise<T> {
  if (shown) {
    try {
      return await change(async (sql) => {
        shown.guard(sql);
        return shown.facts;
      });
    } catch (err) {
      if (!(err instanceof AppError) && (err as { code?: unknown } | null)?.code !== GUARD_FAILED) throw err;
    }
  }
  return change(locked);
}

function serviceFacts(service: TService): ServiceFacts {
  const { id, slug, exclusive, requiresApproval, defaultDurationSeconds, maxDurationSeconds, groupIds } = service;
  return { id, slug, exclusive, requiresApproval, defaultDurationSeconds, maxDurationSeconds, groupIds, gatewayAgentId: service.gateway?.agentId ?? null };
}

function sendGuard(sql: SqlRunner, service: ServiceFacts, holderId: string | null, session: TSession | null): void {
  const rules = {
    exclusive: service.exclusive,
    requiresApproval: service.requiresApproval,
    defaultDurationSeconds: service.defaultDurationSeconds,
    maxDurationSeconds: service.maxDurationSeconds,
    // Bound to a gateway a moment ago on another instance: the start's IPv4 check must see it.
    gatewayAgentId: service.gatewayAgentId,
    // Byte order, as the guard sorts them (COLLATE "C"); ids are ASCII.
    groupIds: [...service.groupIds].sort(),
  };
  sql.send(`SELECT postern_board_guard(?, ?::jsonb, ?, ?::jsonb, ?::jsonb)`, [
    service.id,
    JSON.stringify(rules),
    holderId,
    session && JSON.stringify(session),
    OPEN_JSON,
  ]);
}

const usesBoard = (ctx: DbContext, board: BoardView | undefined): board is BoardView => board !== undefined && ctx.provider === "postgres";

/**
 * A start on a service the board shows, not exclusive (there the holder and the bookings are read
 * under the lock whatever the board shows), where the caller holds no open session: the common
 * start. Otherwise undefined.
 */
export function startShown(ctx: DbContext, board: BoardView | undefined, userId: string, serviceId: string): Shown<StartFacts> | undefined {
  if (!usesBoard(ctx, board)) return undefined;
  const service = board.byId.get(serviceId);
  if (!service || service.exclusive) return undefined;
  if (board.sessionsOf(serviceId, userId).length > 0) return undefined;
  const facts = { service: serviceFacts(service), mine: [] };
  return { facts, guard: (sql) => sendGuard(sql, facts.service, userId, null) };
}

/**
 * An open session the board shows, with its service. An extend on an exclusive service reads the
 * other holders and bookings under the lock, so there `exclusive: false` gives undefined.
 */
export function sessionShown(
  ctx: DbContext,
  board: BoardView | undefined,
  sessionId: string,
  options: { exclusive: boolean; holderAlone?: boolean },
): Shown<SessionFacts> | undefined {
  if (!usesBoard(ctx, board)) return undefined;
  const shown = board.session(sessionId);
  const service = shown && board.byId.get(shown.serviceId);
  if (!shown || !service || (service.exclusive && !options.exclusive) || shown.endedBy) return undefined;
  const session = sessionRowOf(shown);
  if (!options.holderAlone) {
    const facts = { service: serviceFacts(service), session };
    return { facts, guard: (sql) => sendGuard(sql, facts.service, null, shown) };
  }
  // An extension is judged by the holder's other open sessions on the service: decided from the
  // board only when it shows none, and the guard checks that there is none.
  if (board.sessionsOf(shown.serviceId, shown.userId).some((s) => s.id !== shown.id)) return undefined;
  const facts = { service: serviceFacts(service), session, holderOthers: [] };
  return { facts, guard: (sql) => sendGuard(sql, facts.service, shown.userId, shown) };
}
