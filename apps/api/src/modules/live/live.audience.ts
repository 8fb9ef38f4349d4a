// Who receives a live event. Clients are grouped into visibility classes (admin, or a member with
// a given set of groups); an event is judged and serialised once per class, never per client.
// The audience is decided when the event is recorded, inside the change's transaction, and kept
// in the log beside it, so every instance filters the same way without a query.
import type { TDomainEvent } from "@postern/contracts";
import type { SqlRunner } from "@postern/db";
import { withoutSourceIp } from "../sessions/sessions.presenter";

export interface Audience {
  /** "all": every client; "admins": admins only; "groups": members of `groupIds` (and admins). */
  to: "all" | "admins" | "groups";
  groupIds?: string[];
  /** What members of `othersGroupIds` who are not in the audience get instead: `service.deleted`
   * when a service stopped being visible to them. Nobody else hears of it. */
  others?: TDomainEvent;
  othersGroupIds?: string[];
  /** On a `service.updated` that shows the service to more groups: the groups that saw it
   * before. A member in none of them sees it for the first time and gets `service.created`. */
  sawBefore?: string[];
}

/** What the recorder knows that the event does not say. */
export interface AudienceHint {
  /** The service's groups before an update (who may need to be told it is gone). */
  previousGroupIds?: string[];
  /** The groups of the service the event is about, when the caller has them at hand (a session
   * event), or a deleted service's groups (the row is gone when the audience is decided). */
  groupIds?: string[];
  /** Groups told as well, beside the service's own: those that saw it until this change (a
   * session revoked because its holder's group lost the service must reach that holder). */
  alsoGroupIds?: string[];
}

/** Service id → its groups, read once per transaction for every event that needs them. */
export async function serviceGroups(sql: SqlRunner, serviceIds: string[]): Promise<Map<string, string[]>> {
  const map = new Map<string, string[]>(serviceIds.map((id) => [id, []]));
  if (serviceIds.length === 0) return map;
  const rows = await sql.all<{ serviceId: string; groupId: string }>(
    `SELECT "serviceId", "groupId" FROM "ServiceGroup" WHERE "serviceId" IN (${serviceIds.map(() => "?").join(", ")})`,
    serviceIds,
  );
  for (const r of rows) map.get(r.serviceId)?.push(r.groupId);
  return map;
}

/** The services an event's audience depends on. */
export function servicesOf(event: TDomainEvent): string[] {
  if (event.type.startsWith("session.") && "session" in event) return [event.session.serviceId];
  if (event.type.startsWith("agent.") && "serviceIds" in event) return event.serviceIds;
  return [];
}

export function audienceOf(event: TDomainEvent, groups: Map<string, string[]>, hint: AudienceHint = {}): Audience {
  const groupsOf = (ids: string[]) => [...new Set(ids.flatMap((id) => groups.get(id) ?? []))];
  switch (event.type) {
    case "service.created":
      return { to: "groups", groupIds: event.service.groupIds };
    case "service.updated": {
      const audience: Audience = { to: "groups", groupIds: event.service.groupIds };
      const before = hint.previousGroupIds;
      if (!before) return audience;
      const gone = before.filter((g) => !event.service.groupIds.includes(g));
      if (gone.length > 0) Object.assign(audience, { others: { type: "service.deleted", id: event.service.id }, othersGroupIds: gone });
      if (event.service.groupIds.some((g) => !before.includes(g))) audience.sawBefore = before;
      return audience;
    }
    case "service.deleted":
      return { to: "groups", groupIds: hint.groupIds ?? [] };
    case "tunnel.opening":
    case "tunnel.opened":
    case "tunnel.closed":
    case "tunnel.failed":
      return { to: "all" };
    default: {
      const services = servicesOf(event);
      if (services.length > 0) {
        const groupIds = hint.groupIds ?? groupsOf(services);
        return { to: "groups", groupIds: hint.alsoGroupIds ? [...new Set([...groupIds, ...hint.alsoGroupIds])] : groupIds };
      }
      return { to: "admins" };
    }
  }
}

export interface VisibilityClass {
  key: string;
  admin: boolean;
  /** The groups a member of this class belongs to (empty for admins: they see everything). */
  groupIds: ReadonlySet<string>;
}

export const ADMIN_CLASS: VisibilityClass = { key: "admin", admin: true, groupIds: new Set() };

/** The class of a viewer: admins (role and rights) see everything, members by their groups. */
export function classOf(viewer: { admin: boolean; groupIds: string[] } | null): VisibilityClass {
  if (!viewer || viewer.admin) return ADMIN_CLASS;
  const groups = [...new Set(viewer.groupIds)].sort();
  return { key: `m:${groups.join(",")}`, admin: false, groupIds: new Set(groups) };
}

const intersects = (cls: VisibilityClass, ids: string[] | undefined) => (ids ?? []).some((g) => cls.groupIds.has(g));

/** Which variant of the event a class gets: "main", "created" (a service seen for the first
 * time), "others", or null for nothing. */
export function variantFor(audience: Audience, cls: VisibilityClass): "main" | "created" | "others" | null {
  if (audience.to === "all" || cls.admin) return "main";
  if (audience.to === "groups" && intersects(cls, audience.groupIds)) {
    return audience.sawBefore && !intersects(cls, audience.sawBefore) ? "created" : "main";
  }
  if (audience.others && intersects(cls, audience.othersGroupIds)) return "others";
  return null;
}

/** What a member (not an admin) sees of an event: a tunnel's failure without its reason; a gateway's errors name other people's
 * sessions, addresses and hidden services, so members get the status without the detail, and
 * without the services and door counts of every group; and a
 * session comes without the address it was opened from (withoutSourceIp). One frame serves every
 * member, the session's holder too: they have their address in their own request's answer. */
export function memberView(event: TDomainEvent): TDomainEvent {
  switch (event.type) {
    case "service.created":
    case "service.updated":
      if (!event.service.gatewayStatus?.error) return event;
      return { ...event, service: { ...event.service, gatewayStatus: { ...event.service.gatewayStatus, error: undefined } } };
    case "agent.connected":
    case "agent.disconnected":
    case "agent.rules_applied":
      // A gateway serves every group: its services and its doors' counts would tell members of
      // other groups' services and when their doors open. Members find the services an agent's
      // status applies to by the agent id their board's services carry (`gateway.agentId`).
      return {
        ...event,
        agent: { ...event.agent, error: undefined, rulesApplied: 0, rulesDesired: 0 },
        serviceIds: [],
        ...(event.type === "agent.rules_applied" ? { added: 0, removed: 0 } : {}),
      };
    case "tunnel.opening":
    case "tunnel.opened":
    case "tunnel.closed":
    case "tunnel.failed":
      // Why the tunnel failed is ngrok's own wording about the install's account and authtoken:
      // an admin's to act on. Members need where to reach Postern, not why it cannot be reached.
      if (event.tunnel.reason === undefined) return event;
      return { ...event, tunnel: { ...event.tunnel, reason: undefined } };
    default:
      return "session" in event && event.session.sourceIp !== undefined ? { ...event, session: withoutSourceIp(event.session) } : event;
  }
}
