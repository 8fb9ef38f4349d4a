import { ZSessionStatus, type TSession, type TUserRef } from "@postern/contracts";
import type { AccessSession } from "@postern/db";
import type { Occupant } from "./sessions.schedule";

/** The columns of a user that others may see (the holder of a session or a service). */
export const userRefSelect = { id: true, username: true, displayName: true } as const;
export type UserRefRow = { id: string; username: string; displayName: string | null };

export function presentUserRef(u: UserRefRow): TUserRef {
  return { id: u.id, username: u.username, displayName: u.displayName ?? undefined };
}

export const sessionInclude = {
  user: { select: userRefSelect },
  endedBy: { select: { id: true, username: true } },
} as const;

export type SessionRow = AccessSession & {
  user: UserRefRow;
  endedBy: { id: string; username: string } | null;
};

const statuses = ZSessionStatus.options;

export function presentSession(s: SessionRow): TSession {
  return {
    id: s.id,
    serviceId: s.serviceId,
    userId: s.userId,
    user: presentUserRef(s.user),
    status: statuses.find((x) => x === s.status) ?? "ended",
    reason: s.reason ?? undefined,
    sourceIp: s.sourceIp ?? undefined,
    durationSeconds: s.durationSeconds,
    requestedAt: s.requestedAt.toISOString(),
    startsAt: s.startsAt?.toISOString(),
    startedAt: s.startedAt?.toISOString(),
    expiresAt: s.expiresAt?.toISOString(),
    endedAt: s.endedAt?.toISOString(),
    offerExpiresAt: s.offerExpiresAt?.toISOString(),
    endedBy: s.endedBy ?? undefined,
  };
}

/**
 * A session as someone shows it who may not learn where its holder connects from: without
 * `sourceIp`. The address a door admits is a teammate's home or hotel connection; admins (the
 * gateways' page, the audit trail) and the holder keep it, other members see who holds what.
 */
export function withoutSourceIp(s: TSession): TSession {
  if (s.sourceIp === undefined) return s;
  const { sourceIp: _hidden, ...rest } = s;
  return rest;
}

/** A session as `viewer` sees it (see withoutSourceIp). */
export function sessionSeenBy(viewer: { admin: boolean; user: { id: string } }, s: TSession): TSession {
  return viewer.admin || s.userId === viewer.user.id ? s : withoutSourceIp(s);
}

const dateOf = (iso: string | undefined) => (iso === undefined ? null : new Date(iso));

/** Each board session's occupant, made once: a presented session is a snapshot that nothing
 * changes (an event brings a new object), and parsing its instants again for every refused start
 * (a script retrying) cost more than judging the clash. */
const occupants = new WeakMap<TSession, Occupant>();

/** What judging a clash reads of a session on the board (sessions.preflight.ts): three of its
 * instants as Dates, not the whole row. The same object for the same session: do not change it. */
export function occupantOf(s: TSession): Occupant {
  let occupant = occupants.get(s);
  if (!occupant) {
    occupant = {
      id: s.id,
      status: s.status,
      durationSeconds: s.durationSeconds,
      startsAt: dateOf(s.startsAt),
      expiresAt: dateOf(s.expiresAt),
      offerExpiresAt: dateOf(s.offerExpiresAt),
      user: { id: s.user.id, username: s.user.username, displayName: s.user.displayName ?? null },
    };
    occupants.set(s, occupant);
  }
  return occupant;
}

/**
 * A presented session (as the board holds it) back in the row's shape. Who decided a request, and
 * when, are not presented: they come back null, and nothing that judges or presents a session
 * from the board reads them.
 */
export function sessionRowOf(s: TSession): SessionRow {
  return {
    id: s.id,
    serviceId: s.serviceId,
    userId: s.userId,
    status: s.status,
    reason: s.reason ?? null,
    sourceIp: s.sourceIp ?? null,
    durationSeconds: s.durationSeconds,
    requestedAt: new Date(s.requestedAt),
    startsAt: dateOf(s.startsAt),
    startedAt: dateOf(s.startedAt),
    expiresAt: dateOf(s.expiresAt),
    endedAt: dateOf(s.endedAt),
    endedById: s.endedBy?.id ?? null,
    decidedById: null,
    decidedAt: null,
    offerExpiresAt: dateOf(s.offerExpiresAt),
    user: { id: s.user.id, username: s.user.username, displayName: s.user.displayName ?? null },
    endedBy: s.endedBy ?? null,
  };
}
