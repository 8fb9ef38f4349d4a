import type { TAgentStatus, TService } from "@postern/contracts";
import type { AccessSession, Service, ServiceGroup } from "@postern/db";
import { agentStatusOf, agentStatusSelect, type AgentStatusRow } from "../gateway/gateway.presenter";
import { presentUserRef, userRefSelect, type UserRefRow } from "../sessions/sessions.presenter";

/** The Prisma include that loads what `presentService` needs. */
export const serviceInclude = {
  groups: true,
  gatewayAgent: { select: agentStatusSelect },
  sessions: { where: { status: "active" }, include: { user: { select: userRefSelect } }, orderBy: { startedAt: "asc" } },
} as const;

export type ServiceRow = Service & {
  groups: ServiceGroup[];
  gatewayAgent?: AgentStatusRow | null;
  /** A holder deleted between the include's statements reads as null (users.presenter.ts, `UserWithGroups`). */
  sessions: (AccessSession & { user: UserRefRow | null })[];
};

export interface ServiceView {
  /** Admins see why a gateway's doors are not in sync; members only whether they are. */
  detail: boolean;
  now: Date;
}

/** What the board shows of a gateway agent's doors on each service bound to it. */
export function presentGatewayStatus(agent: Pick<TAgentStatus, "online" | "inSync" | "error">, detail: boolean): NonNullable<TService["gatewayStatus"]> {
  return { online: agent.online, inSync: agent.inSync, error: detail ? agent.error : undefined };
}

export function presentService(s: ServiceRow, view: ServiceView = { detail: true, now: new Date() }): TService {
  const open = s.sessions.filter((session) => session.user !== null);
  const holder = s.exclusive ? open[0]?.user : undefined;
  const gateway =
    s.gatewayAgentId && s.gatewayPublicPort && s.gatewayLanHost && s.gatewayLanPort
      ? {
          agentId: s.gatewayAgentId,
          publicPort: s.gatewayPublicPort,
          lanHost: s.gatewayLanHost,
          lanPort: s.gatewayLanPort,
          protocol: s.gatewayProtocol === "udp" ? ("udp" as const) : ("tcp" as const),
        }
      : undefined;
  const status = gateway && s.gatewayAgent ? agentStatusOf(s.gatewayAgent, view.now) : undefined;
  return {
    id: s.id,
    name: s.name,
    slug: s.slug,
    description: s.description ?? undefined,
    kind: (["web", "tcp", "vpn", "other"] as const).find((k) => k === s.kind) ?? "other",
    url: s.url ?? undefined,
    connection: s.connectionMain ? { main: s.connectionMain, sub: s.connectionSub ?? undefined } : undefined,
    exclusive: s.exclusive,
    requiresApproval: s.requiresApproval,
    defaultDurationSeconds: s.defaultDurationSeconds,
    maxDurationSeconds: s.maxDurationSeconds,
    groupIds: s.groups.map((g) => g.groupId),
    gateway,
    gatewayStatus: status ? presentGatewayStatus(status, view.detail) : undefined,
    holder: holder ? presentUserRef(holder) : undefined,
    activeSessions: open.length,
  };
}
