import type { TService } from "@postern/contracts";
import type { AccessSession, Agent, Service, ServiceGroup } from "@postern/db";
import { AGENT_STALE_MS } from "../gateway/gateway.presenter";
import { presentUser, userInclude, type UserWithGroups } from "../users/users.presenter";

/** The Prisma include that loads what `presentService` needs. */
export const serviceInclude = {
  groups: true,
  gatewayAgent: { select: { online: true, lastSeenAt: true, lastError: true, rulesApplied: true, rulesDesired: true } },
  sessions: { where: { status: "active" }, include: { user: { include: userInclude } }, orderBy: { startedAt: "asc" } },
} as const;

export type ServiceRow = Service & {
  groups: ServiceGroup[];
  gatewayAgent?: Pick<Agent, "online" | "lastSeenAt" | "lastError" | "rulesApplied" | "rulesDesired"> | null;
  sessions: (AccessSession & { user: UserWithGroups })[];
};

export function presentService(s: ServiceRow): TService {
  const holder = s.exclusive ? s.sessions[0]?.user : undefined;
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
    gatewayStatus: gateway && s.gatewayAgent ? gatewayStatusOf(s.gatewayAgent) : undefined,
    holder: holder ? presentUser(holder) : undefined,
    activeSessions: s.sessions.length,
  };
}

function gatewayStatusOf(agent: NonNullable<ServiceRow["gatewayAgent"]>): NonNullable<TService["gatewayStatus"]> {
  // The row may still say online when the instance that held the agent's socket died.
  const online = agent.online && !!agent.lastSeenAt && Date.now() - agent.lastSeenAt.getTime() < AGENT_STALE_MS;
  return {
    online,
    inSync: online && !agent.lastError && agent.rulesApplied === agent.rulesDesired,
    error: agent.lastError ?? undefined,
  };
}
