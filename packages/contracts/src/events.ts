// Every change Postern makes is one of these events, named `<resource>.<verb>`. The same name is
// the audit action, the live event type and the in-process signal: a service function records
// the event inside the change's transaction (audit-chain row and live-log row commit with the
// change), and after commit one dispatcher hands it to the scheduler, the gateway, the relay, the
// live stream and the caches. Each event carries what those consumers need: the resource as the
// API presents it, ids, and the cause or the fields that changed where it matters.
import { z } from "zod";
import { ZId } from "./common";
import { ZMessage } from "./messages";
import { ZService } from "./services";
import { ZSession } from "./sessions";
import { ZToken } from "./tokens";
import { ZTunnel } from "./tunnel";
import { ZUser } from "./users";

/** Why a session ended because its holder may no longer see the service. */
export const ZRevocationCause = z.enum([
  /** Removed from a group that granted the service (by an admin, or by the OIDC groups claim). */
  "member_removed",
  /** The service's groups changed. */
  "service_groups_changed",
  /** A group that granted the service was deleted. */
  "group_deleted",
  /** An admin lost the admin role. */
  "demoted",
  "user_disabled",
  "user_deleted",
  "service_deleted",
  /** Found at a timed step (a booked start, an approval, an offer) that the holder may no longer see it. */
  "no_longer_visible",
]);
export type TRevocationCause = z.infer<typeof ZRevocationCause>;

const session = <T extends string, E extends z.ZodRawShape = Record<never, never>>(type: T, extra?: E) =>
  z.object({ type: z.literal(type), session: ZSession, ...(extra ?? ({} as E)) });

export const ZSessionEvent = z.discriminatedUnion("type", [
  /** A request waiting for an admin's approval. */
  session("session.requested"),
  /** Booked for a later window (or approved for one). */
  session("session.scheduled"),
  /** Running now: started directly, its booked window opened (`via: "schedule"`), or an offer was accepted. */
  session("session.started", { via: z.enum(["request", "schedule", "waitlist"]).optional() }),
  session("session.extended", { addedSeconds: z.number().int() }),
  /** Ended early by its holder. */
  session("session.ended"),
  /** Ended early by an admin. */
  session("session.force_ended"),
  session("session.approved"),
  session("session.denied"),
  /** Ran out (`missed`: its booked window passed entirely while Postern was down). */
  session("session.expired", { missed: z.boolean().optional() }),
  /** Ended because its holder may no longer see the service; `endedBy` is whoever made the change. */
  session("session.revoked", { reason: z.literal("access_revoked"), cause: ZRevocationCause }),
  /** Joined an exclusive service's waitlist at `position` (1 = next). */
  session("session.waitlisted", { position: z.number().int() }),
  session("session.left_waitlist"),
  /** The freed service is offered to the first in line until `session.offerExpiresAt`. */
  session("session.offered"),
  session("session.offer_expired"),
]);
export type TSessionEvent = z.infer<typeof ZSessionEvent>;

/** A user as the event names them: enough to read the audit trail without a lookup. */
const ZUserTag = z.object({ id: ZId, username: z.string() });
const ZGroupTag = z.object({ id: ZId, name: z.string() });

/** What the board shows about a gateway agent's doors. */
export const ZAgentStatus = z.object({
  id: ZId,
  name: z.string(),
  online: z.boolean(),
  /** Applied equals desired and the last apply had no error. */
  inSync: z.boolean(),
  /** Admins only: the last error the agent reported. */
  error: z.string().optional(),
  rulesApplied: z.number().int(),
  rulesDesired: z.number().int(),
});
export type TAgentStatus = z.infer<typeof ZAgentStatus>;

const agent = <T extends string, E extends z.ZodRawShape = Record<never, never>>(type: T, extra?: E) =>
  z.object({
    type: z.literal(type),
    agent: ZAgentStatus,
    /** The services bound to the agent, whose `gatewayStatus` this changes. */
    serviceIds: z.array(ZId),
    ...(extra ?? ({} as E)),
  });

const message = <T extends string>(type: T) => z.object({ type: z.literal(type), message: ZMessage });
const tunnel = <T extends string>(type: T) => z.object({ type: z.literal(type), tunnel: ZTunnel });

export const ZDomainEvent = z.discriminatedUnion("type", [
  ...ZSessionEvent.options,

  /** Also sent to a client when a service becomes visible to it (its groups changed). */
  z.object({ type: z.literal("service.created"), service: ZService }),
  z.object({
    type: z.literal("service.updated"),
    service: ZService,
    /** The fields of the update request (empty when only its state on the board changed). */
    changed: z.array(z.string()),
  }),
  /** Also sent to a client when a service stops being visible to it. */
  z.object({ type: z.literal("service.deleted"), id: ZId, name: z.string().optional(), slug: z.string().optional() }),

  z.object({ type: z.literal("user.created"), user: ZUser, cause: z.string().optional() }),
  /** Profile, role or groups changed; `changed` names the fields. */
  z.object({ type: z.literal("user.updated"), user: ZUser, changed: z.array(z.string()) }),
  /** Every open session, login and token of the user has ended. */
  z.object({ type: z.literal("user.disabled"), userId: ZId, user: ZUser.optional(), reason: z.string().optional() }),
  z.object({ type: z.literal("user.enabled"), user: ZUser }),
  z.object({ type: z.literal("user.deleted"), userId: ZId, username: z.string(), reason: z.string().optional() }),
  /** `by`: the user themselves, an admin, or the CLI. Every login of the user (but this one) ended. */
  z.object({
    type: z.literal("user.password_changed"),
    user: ZUserTag,
    by: z.enum(["self", "admin", "cli"]),
    endedLogins: z.number().int(),
    revokedTokens: z.number().int(),
  }),
  z.object({
    type: z.literal("user.login"),
    user: ZUserTag,
    method: z.enum(["local", "oidc"]),
    provider: z.string().optional(),
    /** Group changes the OIDC groups claim made at this login. */
    groups: z.object({ added: z.array(ZId), removed: z.array(ZId), ignored: z.array(z.string()) }).optional(),
  }),
  /** A refused login: `username` as typed (or the OIDC subject), never the password. */
  z.object({
    type: z.literal("user.login_failed"),
    username: z.string().optional(),
    userId: ZId.optional(),
    method: z.enum(["local", "basic", "oidc"]),
    provider: z.string().optional(),
    reason: z.string(),
    code: z.string().optional(),
    email: z.string().optional(),
  }),
  /** Logins were held back after too many failures (per address or per username). */
  z.object({
    type: z.literal("user.login_throttled"),
    username: z.string().optional(),
    ip: z.string().optional(),
    retryAfterSeconds: z.number().int(),
    /** Which count ran out: the client address's, the username's, or both. */
    blockedBy: z.array(z.enum(["ip", "username"])).optional(),
    /** The password route that was asked. */
    route: z.string().optional(),
  }),
  z.object({ type: z.literal("user.logout"), user: ZUserTag }),
  z.object({ type: z.literal("user.logout_all"), user: ZUserTag, ended: z.number().int() }),
  z.object({ type: z.literal("user.identity_linked"), user: ZUserTag, provider: z.string(), via: z.string() }),
  /** HTTP Basic credentials traded for a short-lived bearer token. */
  z.object({ type: z.literal("auth.token_issued"), user: ZUserTag, route: z.string(), expiresIn: z.number().int() }),

  z.object({ type: z.literal("group.created"), group: ZGroupTag }),
  z.object({ type: z.literal("group.renamed"), group: ZGroupTag, previousName: z.string() }),
  z.object({ type: z.literal("group.deleted"), group: ZGroupTag }),
  z.object({ type: z.literal("group.member_added"), group: ZGroupTag, user: ZUserTag }),
  z.object({ type: z.literal("group.member_removed"), group: ZGroupTag, user: ZUserTag }),

  z.object({ type: z.literal("token.created"), token: ZToken }),
  /** `cause`: revoked by hand, or because its owner lost the rights its scopes need. */
  z.object({ type: z.literal("token.revoked"), token: ZToken, cause: z.string().optional() }),

  message("message.queued"),
  message("message.retrying"),
  message("message.sent"),
  message("message.failed"),
  /** Sent and failed messages deleted `retainDays` after they settled (POSTERN_RELAY_RETAIN_DAYS);
   * one event per batch deleted. */
  z.object({ type: z.literal("message.pruned"), ids: z.array(ZId), retainDays: z.number().int() }),

  agent("agent.connected", { driver: z.string().optional(), version: z.string().optional() }),
  agent("agent.disconnected", { reason: z.string().optional() }),
  /** The agent reported what it applied (rules added or removed, or its error changed). */
  agent("agent.rules_applied", { added: z.number().int(), removed: z.number().int() }),

  tunnel("tunnel.opening"),
  tunnel("tunnel.opened"),
  tunnel("tunnel.closed"),
  tunnel("tunnel.failed"),
]);
export type TDomainEvent = z.infer<typeof ZDomainEvent>;
export type TDomainEventType = TDomainEvent["type"];
/** The event of one type. */
export type TDomainEventOf<T extends TDomainEventType> = Extract<TDomainEvent, { type: T }>;

/** Every event type, in declaration order. */
export const DOMAIN_EVENT_TYPES = ZDomainEvent.options.map((o) => o.shape.type.value) as TDomainEventType[];
export const ZDomainEventType = z.enum(DOMAIN_EVENT_TYPES as [TDomainEventType, ...TDomainEventType[]]);

/**
 * Audit actions written before the events had one name each. Rows keep them (the hash chain
 * covers the action), so the audit contract accepts them beside the current names.
 */
export const LEGACY_AUDIT_ACTIONS = [
  "waitlist.joined",
  "waitlist.left",
  "waitlist.offered",
  "waitlist.offer_expired",
  "relay.queued",
  "relay.sent",
  "relay.failed",
] as const;

/** An audit event's action: an event type, or a legacy name kept by older rows. */
export const ZAuditAction = z.union([ZDomainEventType, z.enum(LEGACY_AUDIT_ACTIONS)]);
export type TAuditAction = z.infer<typeof ZAuditAction>;
