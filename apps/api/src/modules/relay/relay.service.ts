// Relay messages: stored first (with their audit event), then delivered by the queue worker.
// The queue is the Message table itself: a message is claimed with a conditional update that
// sets `lockedUntil` (a lease), so several API instances never deliver the same message at once,
// and whatever was queued when an instance stopped is still there when one starts.
import type { TListMessagesQuery, TMessageSeverity, TRelayStatus, TSendMessageBody } from "@postern/contracts";
import type { Message, Prisma, SqlValue } from "@postern/db";
import { badField } from "../../errors";
import { inTransaction, type DbContext } from "../../lib/db-context";
import { runChange, SYSTEM } from "../../lib/run-change";
import type { Actor } from "../audit/audit.service";
import { presentMessage } from "./relay.presenter";
import {
  addressColumn,
  addressList,
  describeMissing,
  includes,
  nextReplies,
  repliesColumn,
  repliesOf,
  replyOf,
  union,
  type AttemptOutcome,
} from "./relay.recipients";
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
  // Only what encodeCursor writes: a date any database keeps (JavaScript's Date reaches years
  // PostgreSQL refuses) and an id without characters it cannot compare (NUL).
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9A-Za-z_-]{1,64})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  const createdAt = new Date(m?.[1] ?? "");
  if (!m || Number.isNaN(createdAt.getTime())) throw badField("querystring.cursor", "not a cursor this list handed out");
  return { createdAt, id: m[2]! };
}

const MESSAGE_SELECT = `SELECT "id", "subject", "message", "severity", "status", "attempts", "lastError", "tokenId", "createdAt", "nextAttemptAt", "lockedUntil", "sentAt", "failedAt", "deliveredTo", "refusedTo", "recipientReplies" FROM "Message"`;

/** Messages newest first, one page at a time: one plain statement (Prisma's `findMany` of the
 * same rows cost 0.9 ms of CPU for a page of 50). */
export async function findMessages(
  ctx: DbContext,
  query: TListMessagesQuery,
): Promise<{ rows: Message[]; nextCursor?: string }> {
  const limit = query.limit ?? 50;
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (query.status) {
    where.push(`"status" = ?`);
    params.push(query.status);
  }
  if (query.cursor) {
    const c = decodeCursor(query.cursor);
    // A row comparison, which both databases seek to on the (…, createdAt, id) indexes; spelled
    // out with OR, the page after it was found by walking every newer message.
    where.push(`("createdAt", "id") < (?, ?)`);
    params.push(c.createdAt, c.id);
  }
  params.push(limit + 1);
  const text = `${MESSAGE_SELECT}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY "createdAt" DESC, "id" DESC LIMIT ?`;
  const rows = await ctx.sql.read((sql) => sql.all<Message>(text, params));
  if (rows.length <= limit) return { rows };
  const page = rows.slice(0, limit);
  return { rows: page, nextCursor: encodeCursor(page[page.length - 1]!) };
}

/** The relay page's summary: three plain statements in one read (1.7 ms of CPU through Prisma). */
export async function relayStatus(ctx: DbContext, settings: RelaySettings): Promise<TRelayStatus> {
  const { counts, lastSent, lastFailure } = await ctx.sql.read(async (sql) => ({
    counts: await sql.all<{ status: string; n: number }>(`SELECT "status", CAST(COUNT(*) AS INTEGER) AS "n" FROM "Message" GROUP BY "status"`),
    lastSent: await sql.get<{ sentAt: Date }>(
      `SELECT "sentAt" FROM "Message" WHERE "status" = 'sent' AND "sentAt" IS NOT NULL ORDER BY "sentAt" DESC LIMIT 1`,
    ),
    lastFailure: await sql.get<{ lastError: string }>(
      `SELECT "lastError" FROM "Message" WHERE "status" = 'queued' AND "lastError" IS NOT NULL ORDER BY "nextAttemptAt" DESC LIMIT 1`,
    ),
  }));
  const count = (status: string) => counts.find((c) => c.status === status)?.n ?? 0;
  return {
    enabled: settings.enabled,
    reason: settings.enabled ? undefined : settings.reason,
    recipients: settings.enabled ? settings.to.length : 0,
    queued: count("queued"),
    failed: count("failed"),
    sent: count("sent"),
    lastSentAt: lastSent?.sentAt.toISOString(),
    lastError: lastFailure?.lastError,
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
 * attempt that dies with its process still counts (one cut short by a clean shutdown is given
 * back by recordAttempt).
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

/** What the queue does with what an attempt could not deliver. */
export interface RetryPolicy {
  /** The configured recipients. */
  to: string[];
  retryInMs: number;
  maxAttempts: number;
  /** The attempt was cut short by this instance shutting down: the mail server never gave its
   * answer, so the attempt does not count toward maxAttempts (nor can it exhaust them). */
  interrupted?: boolean;
  /** The server's answer to the mail, if it took it. */
  response?: string;
}

/**
 * Records an attempt, if this worker still holds the lease: who got the message, who refused it
 * for good, and so what becomes of it. It is `sent` once every recipient has it; it waits for
 * another attempt while some were only deferred (or the server could not be reached); and it is
 * `failed` once nobody is left to try who does not have it (refused, or out of attempts),
 * `lastError` naming who lacks it and why.
 */
export async function recordAttempt(
  ctx: DbContext,
  row: Message,
  lease: Date,
  outcome: AttemptOutcome,
  policy: RetryPolicy,
): Promise<Message | null> {
  const refusedBefore = addressList(row.refusedTo);
  const delivered = union(addressList(row.deliveredTo), outcome.delivered);
  const refused = union(refusedBefore, outcome.missed.filter((m) => m.refused).map((m) => m.address));
  const lacking = policy.to.filter((a) => !includes(delivered, a));
  const waiting = lacking.filter((a) => !includes(refused, a));
  const attempts = policy.interrupted ? row.attempts - 1 : row.attempts;
  const status = lacking.length === 0 ? "sent" : waiting.length > 0 && attempts < policy.maxAttempts ? "queued" : "failed";
  const replies = nextReplies(repliesOf(row.recipientReplies), outcome, lacking, policy.interrupted ?? false);
  const missed = lacking.map((address) => {
    const now = outcome.missed.find((m) => includes([m.address], address));
    // A message refused before the server's answers were kept has none to show.
    const reply = replyOf(replies, address) ?? now?.reason ?? (includes(refusedBefore, address) ? "refused on an earlier attempt" : "not attempted yet");
    // An interrupted attempt says so after what the server said before. (An answered attempt's
    // reply is its own reason, kept shortened: not to be repeated after itself.)
    const reason = policy.interrupted && now && now.reason !== reply ? `${reply}; ${now.reason}` : reply;
    return { address, reason, refused: includes(refused, address) };
  });
  return runChange(ctx, SYSTEM, async (tx, record) => {
    const now = ctx.now();
    const done = await tx.message.updateMany({
      where: { id: row.id, status: "queued", lockedUntil: lease },
      data: {
        status,
        attempts,
        deliveredTo: addressColumn(delivered),
        refusedTo: addressColumn(refused),
        recipientReplies: status === "sent" ? null : repliesColumn(replies),
        lastError: status === "sent" ? null : describeMissing(missed, delivered).slice(0, 500),
        lockedUntil: null,
        ...(status === "sent" ? { sentAt: now } : {}),
        ...(status === "failed" ? { failedAt: now } : {}),
        ...(status === "queued" ? { nextAttemptAt: new Date(now.getTime() + policy.retryInMs) } : {}),
      },
    });
    if (done.count === 0) return null;
    const after = await tx.message.findUniqueOrThrow({ where: { id: row.id } });
    const type = status === "sent" ? "message.sent" : status === "failed" ? "message.failed" : "message.retrying";
    record(
      { type, message: presentMessage(after) },
      {
        details: {
          recipients: delivered.length,
          response: policy.response?.slice(0, 200),
          permanent: status === "sent" ? undefined : waiting.length === 0,
        },
      },
    );
    return after;
  });
}
