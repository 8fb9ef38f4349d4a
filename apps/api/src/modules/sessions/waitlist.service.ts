// Waitlists on exclusive services. A place in line is an AccessSession in status `waiting`,
// ordered by when it joined; the first in line becomes `offered` when the service frees up and
// `active` when accepted. Offering and lapsing run in the scheduler, from the database state, so
// they happen however the holder went (ended, expired, force-ended, disabled) and after restarts.
import type { TAcceptOfferBody, TJoinWaitlistBody, TSession } from "@postern/contracts";
import { AppError, forbidden, notFound } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import type { SqlRunner } from "@postern/db";
import { runSqlChange, SYSTEM, type RecordEvent } from "../../lib/run-change";
import type { Actor } from "../audit/audit.service";
import type { BoardView } from "../board/board.cache";
import { olderRequestFirst } from "../board/board.view";
import { canSeeService } from "../services/services.visibility";
import { revokeIfLost, revokeLost } from "./revocation";
import { presentSession, type SessionRow } from "./sessions.presenter";
import { bookingCountProblem, CALLER, decidedWindowProblem, exclusiveConflict, ownConflict, ownOpenSessions } from "./sessions.schedule";
import { after, checkDuration, closeDueSessions, closingDue, lockedSession, type SessionCaller, type SessionLimits } from "./sessions.service";
import { insertSession, lockServiceRules, lockSession, lockSessions, updateSession, type ServiceRules } from "./sessions.sql";
import { doorAddress } from "./door-address";
import { servicesFreeForLine } from "./session-clock.sql";
import { headOfLine, heldOrOffered, lineLength, lockPlaceInLine, nextBookingStart, waitingLine } from "./waitlist.sql";

export async function joinWaitlist(
  ctx: DbContext,
  caller: SessionCaller,
  serviceId: string,
  body: TJoinWaitlistBody,
  limits: SessionLimits,
): Promise<SessionRow> {
  return runSqlChange(ctx, caller.origin, async (sql, record) => {
    const service = await lockServiceRules(ctx, sql, serviceId);
    if (!service || !canSeeService(caller.viewer, service.groupIds)) throw notFound("service");
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
    const sourceIp = doorAddress(service.gatewayAgentId, body.sourceIp, caller.origin.sourceIp);
    const now = ctx.now();
    const user = caller.viewer.user;
    const own = await ownOpenSessions(sql, user.id, serviceId);
    // A place in line counts toward the bookings one may hold there: refused now, not at the offer,
    // which would cost the place. Its window is not known until the offer, so how it joins the
    // person's bookings is judged at acceptance.
    const mine = ownConflict(ctx, own, [now, after(now, durationSeconds)]) ?? bookingCountProblem(own, limits);
    if (mine) throw mine;
    const ahead = await lineLength(sql, serviceId);
    const data = {
      serviceId,
      userId: user.id,
      status: "waiting",
      reason: body.reason || null,
      sourceIp,
      durationSeconds,
      requestedAt: now,
      startsAt: null,
      startedAt: null,
      expiresAt: null,
    };
    const session = insertSession(sql, data, user);
    record({ type: "session.waitlisted", session: presentSession(session), position: ahead + 1 }, { audience: { groupIds: service.groupIds } });
    return session;
  });
}

/** Leaves the line (or turns down an offer, which then passes to the next in line). */
export async function leaveWaitlist(ctx: DbContext, caller: SessionCaller, serviceId: string): Promise<SessionRow> {
  return runSqlChange(ctx, caller.origin, async (sql, record) => {
    const service = await lockServiceRules(ctx, sql, serviceId);
    if (!service || !canSeeService(caller.viewer, service.groupIds)) throw notFound("service");
    const user = caller.viewer.user;
    const entry = await lockPlaceInLine(ctx, sql, serviceId, user.id);
    if (!entry) throw notFound("waitlist entry");
    const change = { status: "ended", endedAt: ctx.now(), endedById: user.id };
    updateSession(sql, entry.id, change);
    const left: SessionRow = { ...entry, ...change, endedBy: { id: user.id, username: user.username } };
    record(
      { type: "session.left_waitlist", session: presentSession(left) },
      { details: { previousStatus: entry.status }, audience: { groupIds: service.groupIds } },
    );
    return left;
  });
}

/** The line for an exclusive service as the board shows it: the person offered it first, then
 * those waiting, each in the order they joined. */
export function lineOnBoard(view: BoardView, serviceId: string): TSession[] {
  const inLine = (status: string) => view.sessionsOn(serviceId).filter((s) => s.status === status).sort(olderRequestFirst);
  return [...inLine("offered"), ...inLine("waiting")];
}

/** The person offered a service takes it; the clock starts now. */
export async function acceptOffer(
  ctx: DbContext,
  caller: SessionCaller,
  sessionId: string,
  body: TAcceptOfferBody,
  limits: SessionLimits,
): Promise<SessionRow> {
  return runSqlChange(ctx, caller.origin, async (sql, record) => {
    const facts = await lockedSession(ctx, sessionId)(sql);
    if (!facts || !canSeeService(caller.viewer, facts.service.groupIds)) throw notFound("session");
    const { session, service } = facts;
    if (session.userId !== caller.viewer.user.id) throw forbidden("only the person offered the service may accept it");
    if (session.status !== "offered") throw new AppError("conflict", `the session is ${session.status}, not offered`);
    const now = ctx.now();
    if (!session.offerExpiresAt || session.offerExpiresAt <= now) {
      throw new AppError("conflict", `the offer lapsed at ${session.offerExpiresAt?.toISOString()} and passes to the next in line`);
    }
    const durationSeconds = body.durationSeconds ?? session.durationSeconds;
    checkDuration(durationSeconds, service, limits, "body.durationSeconds");
    const expiresAt = after(now, durationSeconds);
    const problem = await decidedWindowProblem(ctx, sql, session, service, [now, expiresAt], limits, CALLER);
    if (problem) throw problem;
    // A service made shared since its line formed is offered to everyone in it: no one is in the way.
    if (service.exclusive) {
      const closeDue = closingDue(ctx, sql, record, now);
      const conflict = await exclusiveConflict(ctx, sql, session.serviceId, [now, expiresAt], { exceptId: sessionId, closeDue });
      if (conflict) throw conflict;
    }
    const change = { status: "active", startedAt: now, expiresAt, durationSeconds };
    updateSession(sql, sessionId, change);
    const started: SessionRow = { ...session, ...change };
    record({ type: "session.started", session: presentSession(started), via: "waitlist" }, { audience: { groupIds: service.groupIds } });
    return started;
  });
}

/** Offers that were not accepted in time end as `expired`; conditional, so one instance wins. */
export function lapseDueOffers(ctx: DbContext): Promise<number> {
  return closeDueSessions(ctx, "offered");
}

/** How the line moves, from the configuration. */
export interface LineRules {
  /** How long the first in line has to accept (POSTERN_WAITLIST_OFFER_SECONDS). */
  offerSeconds: number;
  /** The shortest session (POSTERN_MIN_SESSION_SECONDS). */
  minSessionSeconds: number;
}

/** The line's rules from the configuration. */
export function lineRulesOf(config: { waitlistOfferSeconds: number; minSessionSeconds: number }): LineRules {
  return { offerSeconds: config.waitlistOfferSeconds, minSessionSeconds: config.minSessionSeconds };
}

/**
 * For every exclusive service with people waiting and nobody holding it (no active session, no
 * open offer), and every shared service with people waiting (left by an older version from
 * before a switch to shared offered the line), offers it to the line (`offerLine`): one change
 * of the system's per service. Runs under the service's row lock, with the
 * entry's row locked too, so several API instances make one offer, not two. A head of the line
 * who may no longer see the service (disabled, left the group) although no revocation took them
 * out is revoked, through revocation's own transaction, and the next one asked.
 */
export async function offerFreedServices(ctx: DbContext, rules: LineRules): Promise<number> {
  let offers = 0;
  for (const serviceId of await servicesFreeForLine(ctx)) {
    // Each lost head revoked leaves the line shorter, so this ends; should a head's right come
    // back between the two transactions, twice, the next tick asks again.
    for (let comebacks = 0; comebacks < 2; ) {
      const outcome = await runSqlChange(ctx, SYSTEM, async (sql, record) => {
        const service = await lockServiceRules(ctx, sql, serviceId);
        return service ? offerLine(ctx, sql, record, service, rules, SYSTEM.actor) : 0;
      });
      if (typeof outcome === "number") {
        offers += outcome;
        break;
      }
      if (!(await revokeIfLost(ctx, SYSTEM, outcome.lost, "waiting"))) comebacks += 1;
    }
  }
  return offers;
}

/**
 * Offers `service` to its line, in the change `sql` and `record` belong to, whose caller holds the
 * service's row lock: how many offers were made, or the place in line of a head who may no longer
 * see an exclusive service. The one offer logic, for a service that frees up (the clock) and for
 * one made shared (`updateService`).
 *
 * An exclusive service that nobody holds or is offered goes to the first in line for
 * `offerSeconds`, unless a booking begins before the offer's end leaves room for the shortest
 * session: such an offer could only be refused or lapse, and a lapsed offer costs its place in
 * line. The line moves once the booking is over.
 *
 * A shared service goes to everyone in line at once: each could have it. Those who may no longer
 * see it are revoked in this change (`actor` made it; null for the clock), not offered.
 */
export async function offerLine(
  ctx: DbContext,
  sql: SqlRunner,
  record: RecordEvent,
  service: ServiceRules & { groupIds: string[] },
  rules: LineRules,
  actor: Actor | null,
): Promise<number | { lost: string }> {
  if (!service.exclusive) {
    const line = await waitingLine(ctx, sql, service.id);
    if (line.length === 0) return 0;
    // Locked in id order, as revocation locks them; then those who lost sight of it go.
    const entries = await lockSessions(ctx, sql, line.map((e) => e.id));
    const lost = line.filter((e) => !e.maySee);
    if (lost.length > 0) {
      const scope = { userIds: [...new Set(lost.map((e) => e.userId))], serviceIds: [service.id] };
      await revokeLost(ctx, sql, record, scope, "no_longer_visible", actor);
    }
    const byId = new Map(entries.map((e) => [e.id, e]));
    let offers = 0;
    for (const { id, maySee } of line) {
      const entry = byId.get(id);
      if (!maySee || entry?.status !== "waiting") continue;
      offerTo(ctx, sql, record, entry, service, rules);
      offers += 1;
    }
    return offers;
  }
  if (await heldOrOffered(sql, service.id)) return 0;
  const booked = await nextBookingStart(sql, service.id);
  if (booked && booked < after(ctx.now(), rules.offerSeconds + rules.minSessionSeconds)) return 0;
  const head = await headOfLine(ctx, sql, service.id);
  if (!head) return 0;
  if (!head.maySee) return { lost: head.id };
  // The line is the service's, and its lock is held; a revocation elsewhere may still have
  // ended the entry, so it is judged again under its own lock.
  const entry = await lockSession(ctx, sql, head.id);
  if (entry?.status !== "waiting") return 0;
  offerTo(ctx, sql, record, entry, service, rules);
  return 1;
}

/** One place in line offered the service for `offerSeconds`: the clock's event, whoever's change
 * makes it, so every offer reads the same in the audit trail and on the board. */
function offerTo(ctx: DbContext, sql: SqlRunner, record: RecordEvent, entry: SessionRow, service: { groupIds: string[] }, rules: LineRules): void {
  const offerExpiresAt = after(ctx.now(), rules.offerSeconds);
  updateSession(sql, entry.id, { status: "offered", offerExpiresAt });
  record(
    { type: "session.offered", session: presentSession({ ...entry, status: "offered", offerExpiresAt }) },
    { system: true, audience: { groupIds: service.groupIds } },
  );
}
