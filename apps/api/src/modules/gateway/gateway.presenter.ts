import { isIPv4 } from "node:net";
import type { TAgent, TAgentStatus, TGatewayRule } from "@postern/contracts";
import type { AccessSession, Agent, Service } from "@postern/db";

/** An agent that has not answered a heartbeat for this long counts as offline, even when its
 * row still says online (the API instance holding its connection may have died). */
export const AGENT_STALE_MS = 45_000;

/** The one definition of "online": connected, and heard from within AGENT_STALE_MS. */
export function isAgentOnline(a: Pick<Agent, "online" | "lastSeenAt">, now: Date): boolean {
  return a.online && !!a.lastSeenAt && now.getTime() - a.lastSeenAt.getTime() < AGENT_STALE_MS;
}

export type AgentStatusRow = Pick<Agent, "id" | "name" | "online" | "lastSeenAt" | "lastError" | "rulesApplied" | "rulesDesired">;
export const agentStatusSelect = {
  id: true,
  name: true,
  online: true,
  lastSeenAt: true,
  lastError: true,
  rulesApplied: true,
  rulesDesired: true,
} as const;

/** The same columns for a plain-SQL read. */
export const agentStatusColumns = Object.keys(agentStatusSelect)
  .map((c) => `"${c}"`)
  .join(", ");

/** What the board shows about an agent's doors (admins see the error; members get memberView). */
export function agentStatusOf(a: AgentStatusRow, now: Date): TAgentStatus {
  const online = isAgentOnline(a, now);
  return {
    id: a.id,
    name: a.name,
    online,
    inSync: online && !a.lastError && a.rulesApplied === a.rulesDesired,
    error: a.lastError ?? undefined,
    rulesApplied: a.rulesApplied,
    rulesDesired: a.rulesDesired,
  };
}

export type AgentRow = Agent & { services: Pick<Service, "id" | "name" | "slug">[] };

/** An active session with its service's gateway binding, as `findDesiredRules` reads it. */
export type RuleRow = Pick<AccessSession, "id" | "serviceId" | "sourceIp" | "expiresAt"> &
  Pick<Service, "gatewayProtocol" | "gatewayPublicPort" | "gatewayLanHost" | "gatewayLanPort">;

/** The rule for one active session on a bound service, or null when the binding is incomplete or
 * the session's address is one no door admits (an IPv6 address recorded before the service was
 * bound to a gateway: the agent would report it, and the gateway show out of sync for everyone). */
export function presentRule(s: RuleRow): TGatewayRule | null {
  if (!s.sourceIp || !s.expiresAt || !s.gatewayPublicPort || !s.gatewayLanHost || !s.gatewayLanPort) return null;
  if (!isIPv4(s.sourceIp)) return null;
  return {
    sessionId: s.id,
    serviceId: s.serviceId,
    protocol: s.gatewayProtocol === "udp" ? "udp" : "tcp",
    sourceIp: s.sourceIp,
    publicPort: s.gatewayPublicPort,
    lanHost: s.gatewayLanHost,
    lanPort: s.gatewayLanPort,
    expiresAt: s.expiresAt.toISOString(),
  };
}

/** The doors a set of rules makes: the agent merges the rules of one address on one port (two
 * teammates behind one office NAT holding one service) into one, and reports doors. */
export function doorCount(rules: TGatewayRule[]): number {
  return new Set(rules.map((r) => `${r.protocol} ${r.sourceIp} ${r.publicPort}`)).size;
}

export function presentAgent(a: AgentRow, rules: TGatewayRule[], now: Date): TAgent {
  const online = isAgentOnline(a, now);
  const doors = doorCount(rules);
  return {
    id: a.id,
    name: a.name,
    online,
    lastSeenAt: a.lastSeenAt?.toISOString(),
    createdAt: a.createdAt.toISOString(),
    rulesDesired: doors,
    rulesApplied: a.rulesApplied,
    inSync: online && !a.lastError && a.rulesApplied === doors,
    lastError: a.lastError ?? undefined,
    rules,
    services: a.services.map((s) => ({ id: s.id, name: s.name, slug: s.slug })),
  };
}
