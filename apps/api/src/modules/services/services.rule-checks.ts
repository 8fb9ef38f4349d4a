// What a change to a service's rules must not leave behind: sessions the new rules could not have
// let in. Each is refused (naming the sessions) until they are ended, rather than ended for the
// admin or left to break a promise later (a door that cannot open, two holders of an exclusive
// service, a session started without the approval now required).
import { OPEN_STATUSES } from "@postern/contracts";
import type { Tx } from "@postern/db";
import { AppError, badField } from "../../errors";
import { overlaps, spanOf } from "../sessions/sessions.schedule";

type LengthField = "maxDurationSeconds" | "defaultDurationSeconds";

/** A service's lengths must leave room for the shortest session the install allows, or every
 * start on it is refused (one left to its default length, as the board's one click is, for a
 * field the member never sent). Callers pass only the lengths being changed, and name the fields
 * as their caller sent them (a query parameter, a CLI option). */
export function assertLengthsAllowed(
  input: { maxDurationSeconds?: number; defaultDurationSeconds?: number },
  minSessionSeconds: number,
  fieldOf: (field: LengthField) => string = (field) => `body.${field}`,
): void {
  for (const field of ["maxDurationSeconds", "defaultDurationSeconds"] as const) {
    const seconds = input[field];
    if (seconds !== undefined && seconds < minSessionSeconds) {
      throw badField(fieldOf(field), `must be at least ${minSessionSeconds} seconds, the shortest session allowed (POSTERN_MIN_SESSION_SECONDS)`);
    }
  }
}

/** The default length of a service made without one: an hour, within its maximum, and no shorter
 * than the shortest session. */
export const implicitDefaultSeconds = (maxDurationSeconds: number, minSessionSeconds: number) =>
  Math.min(Math.max(3600, minSessionSeconds), maxDurationSeconds);

/**
 * A door admits IPv4 only, so a start on a service behind a gateway is refused an IPv6 address.
 * One asked for before the service had a gateway (a booking, a request, a place in line, or a
 * session running) would be active with no door and no sign of why: binding the service is
 * refused until they are ended.
 */
export async function assertNoDoorlessSessions(tx: Tx, serviceId: string): Promise<void> {
  const sessions = await tx.accessSession.findMany({
    where: { serviceId, status: { in: [...OPEN_STATUSES] }, sourceIp: { contains: ":" } },
    select: { id: true, sourceIp: true },
    take: 5,
  });
  if (sessions.length === 0) return;
  const list = sessions.map((x) => `${x.id} (${x.sourceIp})`).join(", ");
  throw new AppError(
    "conflict",
    `body.gateway: open sessions on this service were asked from IPv6 addresses, which a gateway's doors cannot admit: ${list}; end them first`,
  );
}

const named = (x: { id: string; status: string; user: { username: string } }) => `${x.user.username}'s ${x.status} session ${x.id}`;

/** Approval switched on: a place in line would be offered the service and started with no one
 * approving it. The line must be empty (each place ended: DELETE /api/sessions/:id). */
export async function assertNoLine(tx: Tx, serviceId: string): Promise<void> {
  const line = await tx.accessSession.findMany({
    where: { serviceId, status: { in: ["waiting", "offered"] } },
    select: { id: true, status: true, user: { select: { username: true } } },
    orderBy: { requestedAt: "asc" },
    take: 5,
  });
  if (line.length === 0) return;
  throw new AppError(
    "conflict",
    `body.requiresApproval: people wait in this service's line and would get it without approval: ${line.map(named).join(", ")}; end their places first`,
    { sessionIds: line.map((x) => x.id) },
  );
}

/** Made exclusive: sessions that share the service now, or bookings whose windows overlap, would
 * all start and hold it together (a booking's start is not judged again). */
export async function assertNoOverlaps(tx: Tx, serviceId: string, now: Date): Promise<void> {
  const open = await tx.accessSession.findMany({
    where: { serviceId, status: { in: ["active", "scheduled", "offered"] } },
    select: { id: true, status: true, durationSeconds: true, startsAt: true, expiresAt: true, offerExpiresAt: true, user: { select: { username: true } } },
    orderBy: { requestedAt: "asc" },
  });
  const spans = open.map((x) => ({ x, span: spanOf(x, now) }));
  const clashing = spans.filter((a) => spans.some((b) => a !== b && overlaps(a.span, b.span))).map((a) => a.x);
  if (clashing.length === 0) return;
  throw new AppError(
    "conflict",
    `body.exclusive: these sessions overlap and would hold the service together: ${clashing.slice(0, 5).map(named).join(", ")}${clashing.length > 5 ? ` and ${clashing.length - 5} more` : ""}; end or cancel them first`,
    { sessionIds: clashing.map((x) => x.id) },
  );
}
