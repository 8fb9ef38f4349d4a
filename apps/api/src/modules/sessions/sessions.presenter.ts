import { ZSessionStatus, type TSession } from "@postern/contracts";
import type { AccessSession } from "@postern/db";
import { presentUser, userInclude, type UserWithGroups } from "../users/users.presenter";

export const sessionInclude = {
  user: { include: userInclude },
  endedBy: { select: { id: true, username: true } },
} as const;

export type SessionRow = AccessSession & {
  user: UserWithGroups;
  endedBy: { id: string; username: string } | null;
};

const statuses = ZSessionStatus.options;

export function presentSession(s: SessionRow): TSession {
  return {
    id: s.id,
    serviceId: s.serviceId,
    userId: s.userId,
    user: presentUser(s.user),
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
