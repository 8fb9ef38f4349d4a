// Relay messages: stored first (with their audit event), then delivered by the queue worker.
// The queue is the Message table itself: a message is claimed with a conditional update that
// sets `lockedUntil` (a lease), so several API instances never deliver the same message at once,
// and whatever was queued when an instance stopped is still there when one starts.
import type { TListMessagesQuery, TMessageSeverity, TRelayStatus, TSendMessageBody } from "@postern/contracts";
import type { Message, Prisma } from "@postern/db";
import { badField } from "../../errors";
import { inTransaction, type DbContext } from "../../lib/db-context";
import { runChange, SYSTEM } from "../../lib/run-change";
import type { Actor } from "../audit/audit.service";
import { presentMessage } from "./relay.presenter";
import type { RelaySettings } from "./relay.settings";

export interface MessageSender {
  actor: Actor;
  sourceIp?: string;
  /** The API token the message came with, if any. */
  tokenId?: string;
  /** Which route took it (`messages` or the compatibility `placeMessage`). */
  via: string;
}

export async function enqueueMessage(ctx: DbContext, sender: MessageSender, body: TSendMessageBody): Promise<Message> {
  return runChange(ctx, { actor: sender.actor, sourceIp: sender.sourceIp }, async (tx, record) => {
    const now = ctx.now();
    const severity: TMessageSeverity = body.severity ?? "info";
    const message = await tx.message.create({
      data: {
        subject: body.subject ?? null,
        message: body.message,
        severity,
        status: "queued",
        tokenId: sender.tokenId ?? null,
        createdAt: now,
        nextAttemptAt: now,
      },
    });
    record({ type: "message.queued", message: presentMessage(message) }, { details: { tokenId: sender.tokenId, via: sender.via } });
    return message;
  });
}

function encodeCursor(m: Pick<Message, "createdAt" | "id">): string {
  return Buffer.from(`${m.createdAt.toISOString()}|${m.id}`).toString("base64url");
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  const createdAt = new Date(at ?? "");
  if (!id || Number.isNaN(createdAt.getTime())) throw badField("querystring.cursor", "not a cursor this list handed out");
  return { createdAt, id };
}

/** Messages newest first, one page at a time. */
export async function findMessages(
  ctx: DbContext,
  query: TListMessagesQuery,
): Promise<{ rows: Message[]; nextCursor?: string }> {
  const limit = query.limit ?? 50;
  const where: Prisma.MessageWhereInput = {};
  if (query.status) where.status = query.status;
  if (query.cursor) {
    const c = decodeCursor(query.cursor);
    where.OR = [{ createdAt: { lt: c.createdAt } }, { createdAt: c.createdAt, id: { lt: c.id } }];
  }
  const rows = await ctx.db.message.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: limit + 1 });
  if (rows.length <= limit) return { rows };
  const page = rows.slice(0, limit);
  return { rows: page, nextCursor: encodeCursor(page[page.length - 1]!) };
}

export async function relayStatus(ctx: DbContext, settings: RelaySettings): Promise<TRelayStatus> {
  const [counts, lastSent, lastFailure] = await Promise.all([
    ctx.db.message.groupBy({ by: ["status"], _count: { _all: true } }),
    ctx.db.message.findFirst({ where: { status: "sent" }, orderBy: { sentAt: "desc" }, select: { sentAt: true } }),
    ctx.db.message.findFirst({
      where: { status: "queued", lastError: { not: null } },
      orderBy: { nextAttemptAt: "desc" },
      select: { lastError: true },
    }),
  ]);
  const count = (status: string) => counts.find((c) => c.status === status)?._count._all ?? 0;
  return {
    enabled: settings.enabled,
    reason: settings.enabled ? undefined : settings.reason,
    recipients: settings.enabled ? settings.to.length : 0,
    queued: count("queued"),
    failed: count("failed"),
    sent: count("sent"),
    lastSentAt: lastSent?.sentAt?.toISOString(),
    lastError: lastFailure?.lastError ?? undefined,
  };
}

/** Messages that may be attempted now: queued, due, and not leased by a live worker. */
export function dueWhere(now: Date): Prisma.MessageWhereInput {
  return {
    status: "queued",
    nextAttemptAt: { lte: now },
    OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }],
  };
}

/**
 * Takes a message for one delivery attempt: a conditional update, so of several workers (in
 * one instance or many) exactly one wins. The attempt is counted here, before sending, so an
 * attempt that dies with its process still counts.
 */
export async function claimMessage(ctx: DbContext, id: string, leaseMs: number): Promise<{ row: Message; lease: Date } | null> {
  // One transaction: the claim and the read of what was claimed, with nothing between them.
  return inTransaction(ctx, async (tx) => {
    const now = ctx.now();
    const lease = new Date(now.getTime() + leaseMs);
    const claimed = await tx.message.updateMany({
      where: { id, ...dueWhere(now) },
      data: { lockedUntil: lease, attempts: { increment: 1 } },
    });
    if (claimed.count === 0) return null;
    const row = await tx.message.findUniqueOrThrow({ where: { id } });
    return { row, lease };
  });
}

/** Records a delivery, if this worker still holds the lease. */
export async function markSent(
  ctx: DbContext,
  row: Message,
  lease: Date,
  details: { recipients: number; response?: string },
): Promise<Message | null> {
  return runChange(ctx, SYSTEM, async (tx, record) => {
    const now = ctx.now();
    const done = await tx.message.updateMany({
      where: { id: row.id, status: "queued", lockedUntil: lease },
      data: { status: "sent", sentAt: now, lockedUntil: null, lastError: null },
    });
    if (done.count === 0) return null;
    const sent = await tx.message.findUniqueOrThrow({ where: { id: row.id } });
    record(
      { type: "message.sent", message: presentMessage(sent) },
      { details: { recipients: details.recipients, response: details.response?.slice(0, 200) } },
    );
    return sent;
  });
}

/**
 * Records a failed attempt: the message waits for its next attempt, or, after the last one or
 * on a permanent SMTP rejection, is marked failed (and audited).
 */
export async function markAttemptFailed(
  ctx: DbContext,
  row: Message,
  lease: Date,
  failure: { error: string; permanent: boolean; retryInMs: number; maxAttempts: number },
): Promise<Message | null> {
  const error = failure.error.slice(0, 500);
  const giveUp = failure.permanent || row.attempts >= failure.maxAttempts;
  return runChange(ctx, SYSTEM, async (tx, record) => {
    const now = ctx.now();
    const done = await tx.message.updateMany({
      where: { id: row.id, status: "queued", lockedUntil: lease },
      data: giveUp
        ? { status: "failed", lastError: error, lockedUntil: null }
        : { lastError: error, lockedUntil: null, nextAttemptAt: new Date(now.getTime() + failure.retryInMs) },
    });
    if (done.count === 0) return null;
    const after = await tx.message.findUniqueOrThrow({ where: { id: row.id } });
    record({ type: giveUp ? "message.failed" : "message.retrying", message: presentMessage(after) }, { details: { permanent: failure.permanent } });
    return after;
  });
}
