import { ZAuditAction, type TAuditAction, type TAuditEvent } from "@postern/contracts";
import type { AuditEvent } from "@postern/db";

export function presentAuditEvent(e: AuditEvent): TAuditEvent {
  return {
    id: e.id,
    seq: e.seq,
    at: e.at.toISOString(),
    actor: e.actorId && e.actorUsername ? { id: e.actorId, username: e.actorUsername } : undefined,
    action: ZAuditAction.parse(e.action) as TAuditAction,
    target: e.target ?? undefined,
    serviceId: e.serviceId ?? undefined,
    sessionId: e.sessionId ?? undefined,
    sourceIp: e.sourceIp ?? undefined,
    details: e.details ? (JSON.parse(e.details) as Record<string, unknown>) : undefined,
    hash: e.hash,
    prevHash: e.prevHash,
  };
}
