// Writes audit events into the hash chain, always inside the caller's transaction, so an
// event exists exactly when the change it describes was committed.
import { createHash } from "node:crypto";
import type { AuditEvent, Tx } from "@postern/db";
import type { DbContext } from "../../lib/db-context";

export const GENESIS_HASH = "0".repeat(64);
/** Arbitrary constant key for the advisory lock that serialises chain appends on PostgreSQL. */
const AUDIT_LOCK_KEY = 7_307_001;

export interface Actor {
  id: string;
  username: string;
}

export interface AuditInput {
  actor?: Actor | null;
  action: string;
  target?: string;
  serviceId?: string;
  sessionId?: string;
  sourceIp?: string;
  details?: Record<string, unknown>;
}

type HashedFields = Pick<
  AuditEvent,
  "seq" | "at" | "actorId" | "actorUsername" | "action" | "target" | "serviceId" | "sessionId" | "sourceIp" | "details" | "prevHash"
>;

/** The hash of one event: over every stored field, in a fixed order, and the previous hash. */
export function hashAuditEvent(e: HashedFields): string {
  const canonical = JSON.stringify([
    e.seq,
    e.at.toISOString(),
    e.actorId,
    e.actorUsername,
    e.action,
    e.target,
    e.serviceId,
    e.sessionId,
    e.sourceIp,
    e.details,
    e.prevHash,
  ]);
  return createHash("sha256").update(canonical).digest("hex");
}

export async function writeAudit(ctx: DbContext, tx: Tx, input: AuditInput): Promise<AuditEvent> {
  if (ctx.provider === "postgres") {
    await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${AUDIT_LOCK_KEY})`);
  }
  const last = await tx.auditEvent.findFirst({ orderBy: { seq: "desc" }, select: { seq: true, hash: true } });
  const fields: HashedFields = {
    seq: (last?.seq ?? 0) + 1,
    // Millisecond precision on both providers, so the hash recomputes identically after a read.
    at: new Date(Math.floor(ctx.now().getTime())),
    actorId: input.actor?.id ?? null,
    actorUsername: input.actor?.username ?? null,
    action: input.action,
    target: input.target ?? null,
    serviceId: input.serviceId ?? null,
    sessionId: input.sessionId ?? null,
    sourceIp: input.sourceIp ?? null,
    details: input.details ? JSON.stringify(input.details) : null,
    prevHash: last?.hash ?? GENESIS_HASH,
  };
  return tx.auditEvent.create({ data: { ...fields, hash: hashAuditEvent(fields) } });
}

export interface ChainBreak {
  seq: number;
  id: string;
  reason: string;
}

/** Walks the chain in order and reports the first event whose hash or link does not match. */
export async function verifyAuditChain(ctx: DbContext): Promise<{ checked: number; firstBreak?: ChainBreak }> {
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let checked = 0;
  let cursor = 0;
  for (;;) {
    const batch = await ctx.db.auditEvent.findMany({ where: { seq: { gt: cursor } }, orderBy: { seq: "asc" }, take: 1000 });
    if (batch.length === 0) return { checked };
    for (const e of batch) {
      const fail = (reason: string) => ({ checked, firstBreak: { seq: e.seq, id: e.id, reason } });
      if (e.seq !== expectedSeq) return fail(`expected event #${expectedSeq} here, found #${e.seq} (an event was deleted)`);
      if (e.prevHash !== prevHash) return fail("prevHash does not match the previous event's hash");
      if (hashAuditEvent(e) !== e.hash) return fail("content does not match its hash (the event was edited)");
      prevHash = e.hash;
      expectedSeq += 1;
      checked += 1;
    }
    cursor = batch[batch.length - 1]!.seq;
  }
}
