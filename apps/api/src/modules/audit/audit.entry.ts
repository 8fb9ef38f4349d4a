// How each domain event reads in the audit trail: its target, the service and session it
// concerns, and the details worth keeping (the facts, not whole presented resources).
import type { TDomainEvent, TSession } from "@postern/contracts";
import type { AuditInput } from "./audit.service";

export type AuditFields = Pick<AuditInput, "target" | "serviceId" | "sessionId" | "details">;

function sessionDetails(s: TSession): Record<string, unknown> {
  return {
    holder: s.user.username,
    status: s.status,
    durationSeconds: s.durationSeconds,
    sessionSourceIp: s.sourceIp,
    startsAt: s.startsAt,
    expiresAt: s.expiresAt,
    offerExpiresAt: s.offerExpiresAt,
    reason: s.reason,
  };
}

/** Drops undefined values so the stored JSON (and its hash) holds only what is there. */
function compact(details: Record<string, unknown>): Record<string, unknown> | undefined {
  const out = Object.fromEntries(Object.entries(details).filter(([, v]) => v !== undefined));
  return Object.keys(out).length > 0 ? out : undefined;
}

export function auditFieldsOf(event: TDomainEvent): AuditFields {
  switch (event.type) {
    case "session.requested":
    case "session.scheduled":
    case "session.started":
    case "session.extended":
    case "session.ended":
    case "session.force_ended":
    case "session.approved":
    case "session.denied":
    case "session.expired":
    case "session.revoked":
    case "session.waitlisted":
    case "session.left_waitlist":
    case "session.offered":
    case "session.offer_expired": {
      const { type: _type, session, ...extra } = event;
      return {
        target: `session:${session.id}`,
        serviceId: session.serviceId,
        sessionId: session.id,
        details: compact({ ...sessionDetails(session), ...extra }),
      };
    }
    case "service.created":
    case "service.updated": {
      const s = event.service;
      return {
        target: `service:${s.id}`,
        serviceId: s.id,
        details: compact({
          name: s.name,
          slug: s.slug,
          exclusive: s.exclusive,
          groupIds: s.groupIds,
          changed: event.type === "service.updated" ? event.changed : undefined,
        }),
      };
    }
    case "service.deleted":
      return { target: `service:${event.id}`, serviceId: event.id, details: compact({ name: event.name, slug: event.slug }) };
    case "user.created":
      return {
        target: `user:${event.user.id}`,
        details: compact({ username: event.user.username, role: event.user.role, groupIds: event.user.groups.map((g) => g.id), cause: event.cause }),
      };
    case "user.updated":
      return {
        target: `user:${event.user.id}`,
        details: compact({ username: event.user.username, changed: event.changed, role: event.user.role, groupIds: event.user.groups.map((g) => g.id) }),
      };
    case "user.enabled":
      return { target: `user:${event.user.id}`, details: { username: event.user.username } };
    case "user.disabled":
      return { target: `user:${event.userId}`, details: compact({ username: event.user?.username, reason: event.reason }) };
    case "user.deleted":
      return { target: `user:${event.userId}`, details: compact({ username: event.username, reason: event.reason }) };
    case "user.password_changed": {
      const { type: _type, user, ...rest } = event;
      return { target: `user:${user.id}`, details: { username: user.username, ...rest } };
    }
    case "user.login":
      return { target: `user:${event.user.id}`, details: compact({ method: event.method, provider: event.provider, groups: event.groups }) };
    case "user.login_failed": {
      const { type: _type, userId, username, ...rest } = event;
      return { target: userId ? `user:${userId}` : username ? `username:${username}` : undefined, details: compact({ username, ...rest }) };
    }
    case "user.login_throttled":
      return {
        target: event.username ? `username:${event.username}` : undefined,
        details: compact({ ip: event.ip, retryAfterSeconds: event.retryAfterSeconds, blockedBy: event.blockedBy, route: event.route }),
      };
    case "user.logout":
      return { target: `user:${event.user.id}` };
    case "user.logout_all":
      return { target: `user:${event.user.id}`, details: { ended: event.ended } };
    case "user.identity_linked":
      return { target: `user:${event.user.id}`, details: { provider: event.provider, via: event.via } };
    case "auth.token_issued":
      return { target: `user:${event.user.id}`, details: { route: event.route, expiresIn: event.expiresIn } };
    case "group.created":
    case "group.deleted":
      return { target: `group:${event.group.id}`, details: { name: event.group.name } };
    case "group.renamed":
      return { target: `group:${event.group.id}`, details: { name: event.group.name, previousName: event.previousName } };
    case "group.member_added":
    case "group.member_removed":
      return { target: `group:${event.group.id}`, details: { group: event.group.name, userId: event.user.id, username: event.user.username } };
    case "token.created":
    case "token.revoked": {
      const t = event.token;
      return {
        target: `token:${t.id}`,
        details: compact({
          name: t.name,
          scopes: t.scopes,
          userId: t.userId,
          expiresAt: t.expiresAt,
          cause: event.type === "token.revoked" ? event.cause : undefined,
        }),
      };
    }
    case "message.queued":
    case "message.retrying":
    case "message.sent":
    case "message.failed": {
      const m = event.message;
      return {
        target: `message:${m.id}`,
        details: compact({ severity: m.severity, subject: m.subject, length: m.message.length, attempts: m.attempts, error: m.lastError }),
      };
    }
    case "message.pruned":
      // How many, not which: a backlog's batch names hundreds, and each was audited when queued.
      return { details: { count: event.ids.length, retainDays: event.retainDays } };
    case "agent.connected":
    case "agent.disconnected":
    case "agent.rules_applied": {
      const { type: _type, agent, serviceIds: _services, ...extra } = event;
      return {
        target: `agent:${agent.id}`,
        details: compact({
          name: agent.name,
          online: agent.online,
          applied: agent.rulesApplied,
          desired: agent.rulesDesired,
          error: agent.error,
          ...extra,
        }),
      };
    }
    case "tunnel.opening":
    case "tunnel.opened":
    case "tunnel.closed":
    case "tunnel.failed":
      return { target: "tunnel:ngrok", details: compact({ state: event.tunnel.state, url: event.tunnel.url, reason: event.tunnel.reason }) };
  }
}
