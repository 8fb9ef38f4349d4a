import { ZMessageSeverity, ZMessageStatus, type TMessage } from "@postern/contracts";
import type { Message } from "@postern/db";
import { addressList } from "./relay.recipients";

export function presentMessage(m: Message): TMessage {
  return {
    id: m.id,
    subject: m.subject ?? undefined,
    message: m.message,
    severity: ZMessageSeverity.catch("info").parse(m.severity),
    status: ZMessageStatus.catch("queued").parse(m.status),
    attempts: m.attempts,
    lastError: m.lastError ?? undefined,
    deliveredTo: m.deliveredTo ? addressList(m.deliveredTo) : undefined,
    createdAt: m.createdAt.toISOString(),
    nextAttemptAt: m.status === "queued" ? m.nextAttemptAt.toISOString() : undefined,
    sentAt: m.sentAt?.toISOString(),
  };
}
