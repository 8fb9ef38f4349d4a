import { ZSessionStatus, type TSession, type TUserRef } from "@postern/contracts";
import type { AccessSession } from "@postern/db";

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
