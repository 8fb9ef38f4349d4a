// Writes audit events into the hash chain, always inside the caller's transaction, so an
// event exists exactly when the change it describes was committed.
import { createHash } from "node:crypto";
import { DOMAIN_EVENT_TYPES, LEGACY_AUDIT_ACTIONS, auditTimeBound, isoWeekRange, type TAuditAction, type TAuditExportQuery, type TAuditListQuery } from "@postern/contracts";
import { newId, pgTimestamp, type AuditEvent, type SqlRunner, type SqlValue, type Tx } from "@postern/db";
import { badField } from "../../errors";
import type { DbContext } from "../../lib/db-context";

export const GENESIS_HASH = "0".repeat(64);
/** Arbitrary constant key for the advisory lock that serialises chain appends on PostgreSQL
 * (`postern_chain_append`, the function of migration 20261129150000_chain_append, takes it too). */
const AUDIT_LOCK_KEY = 7_307_001;

/** Who made a change, as the audit trail names them. `kind` says whether `id` is a user's
 * (so a session may point at it as `endedBy`), a token's (`token:<id>`) or the CLI's. */
export interface Actor {
  id: string;
  username: string;
  kind?: "user" | "token" | "cli";
}

/** The user id behind an actor, when the actor is a user (foreign keys may point at it). */
export function actorUserId(actor: Actor | null | undefined): string | null {
  return actor && (actor.kind ?? "user") === "user" ? actor.id : null;
}

export interface AuditInput {
  actor?: Actor | null;
  action: TAuditAction;
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
  return hashOf(e.seq, hashedMiddle(e), e.prevHash);
}

/**
 * The hash is SHA-256 of the JSON array [seq, at, actorId, actorUsername, action, target,
 * serviceId, sessionId, sourceIp, details, prevHash]. Its middle (every field the change itself
 * knows) is serialised here, and only here, for both ways an event is hashed: in this process, and
 * on PostgreSQL by the database under the chain lock (`chainAppendRows`), which fills in seq and
 * prevHash the same way `hashOf` does.
 */
function hashedMiddle(e: Omit<HashedFields, "seq" | "prevHash">): string {
  const array = JSON.stringify([e.at.toISOString(), e.actorId, e.actorUsername, e.action, e.target, e.serviceId, e.sessionId, e.sourceIp, e.details]);
  return array.slice(1, -1);
}

function hashOf(seq: number, middle: string, prevHash: string): string {
  return createHash("sha256").update(`[${seq},${middle},${JSON.stringify(prevHash)}]`).digest("hex");
}

export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * Takes the lock that orders the audit chain and the live log and reads the chain's last link.
 * On PostgreSQL the lock is a transaction-scoped advisory lock, held until the transaction ends
 * (SQLite's transactions already run one at a time). Whoever holds it appends to both, so both
 * are committed in the order their numbers say. One round trip: the lock and the read go as one
 * script, and the read, a statement of its own, sees the head as the previous holder committed it.
 */
export async function lockChainHead(ctx: DbContext, sql: SqlRunner): Promise<ChainHead> {
  const head = `SELECT "seq", "hash" FROM "AuditEvent" ORDER BY "seq" DESC LIMIT 1`;
  // The lock wrapped in a row: Prisma's raw queries cannot read the function's void.
  const lock = `SELECT 1 AS "locked" FROM (SELECT pg_advisory_xact_lock(${AUDIT_LOCK_KEY})) AS l`;
  const results = await sql.script(ctx.provider === "postgres" ? [lock, head] : [head]);
  const last = results[results.length - 1]?.[0] as { seq: number; hash: string } | undefined;
  return last ? { seq: Number(last.seq), hash: last.hash } : { seq: 0, hash: GENESIS_HASH };
}

const AUDIT_COLUMNS = ["id", "seq", "at", "actorId", "actorUsername", "action", "target", "serviceId", "sessionId", "sourceIp", "details", "prevHash", "hash"] as const;
/** Every stored field, as Prisma's rows have them (sql.ts normalises the values). */
const AUDIT_SELECT = `SELECT ${AUDIT_COLUMNS.map((c) => `"${c}"`).join(", ")} FROM "AuditEvent"`;

/** A statement with its parameters, to run alone or as part of a larger one. */
export interface Statement {
  text: string;
  params: SqlValue[];
}

/** The fields of each event as stored, but for its place in the chain (seq, prevHash, hash). */
function auditRows(ctx: DbContext, inputs: AuditInput[]) {
  // Millisecond precision on both providers, so the hash recomputes identically after a read.
  const at = new Date(Math.floor(ctx.now().getTime()));
  return inputs.map((input) => ({
    id: newId(),
    at,
    actorId: input.actor?.id ?? null,
    actorUsername: input.actor?.username ?? null,
    action: input.action,
    target: input.target ?? null,
    serviceId: input.serviceId ?? null,
    sessionId: input.sessionId ?? null,
    sourceIp: input.sourceIp ?? null,
    details: input.details ? JSON.stringify(input.details) : null,
  }));
}

/** The INSERT that links events to the chain after `head` (read under the chain lock). */
export function auditInsert(ctx: DbContext, head: ChainHead, inputs: AuditInput[]): Statement {
  let seq = head.seq;
  let prevHash = head.hash;
  const params: SqlValue[] = [];
  for (const fields of auditRows(ctx, inputs)) {
    seq += 1;
    const hash = hashOf(seq, hashedMiddle(fields), prevHash);
    const row = { ...fields, seq, prevHash, hash };
    prevHash = hash;
    params.push(...AUDIT_COLUMNS.map((c) => row[c]));
  }
  return { text: auditInsertText(inputs.length), params };
}

/**
 * The events for PostgreSQL's `postern_chain_append` (its migration, 20261129150000_chain_append),
 * which takes the chain lock, reads the head and links them in the database: per event its id,
 * `at` (UTC, as a timestamp without time zone reads it), the stored fields and the middle of its
 * hashed array.
 */
export function chainAppendRows(ctx: DbContext, inputs: AuditInput[]): unknown[][] {
  return auditRows(ctx, inputs).map((r) => [
    r.id,
    pgTimestamp(r.at),
    r.actorId,
    r.actorUsername,
    r.action,
    r.target,
    r.serviceId,
    r.sessionId,
    r.sourceIp,
    r.details,
    hashedMiddle(r),
  ]);
}

const insertTexts: string[] = [];
/** The INSERT's text for `n` rows, built once: the statement cache looks statements up by text. */
function auditInsertText(n: number): string {
  let text = insertTexts[n];
  if (text === undefined) {
    const placeholders = Array.from({ length: n }, () => `(${AUDIT_COLUMNS.map(() => "?").join(", ")})`).join(", ");
    text = `INSERT INTO "AuditEvent" (${AUDIT_COLUMNS.map((c) => `"${c}"`).join(", ")}) VALUES ${placeholders}`;
    if (n <= 16) insertTexts[n] = text;
  }
  return text;
}

/** Takes the chain lock and appends events to the chain. Returns the seq of the last one. */
export async function appendAudit(ctx: DbContext, sql: SqlRunner, inputs: AuditInput[]): Promise<number> {
  const head = await lockChainHead(ctx, sql);
  if (inputs.length === 0) return head.seq;
  const insert = auditInsert(ctx, head, inputs);
  await sql.run(insert.text, insert.params);
  return head.seq + inputs.length;
}

/** One event, with its own lock: for tests and tools that write the chain directly. */
export async function writeAudit(ctx: DbContext, tx: Tx, input: AuditInput): Promise<{ seq: number }> {
  return { seq: await appendAudit(ctx, ctx.sql.within(tx), [input]) };
}

export interface ChainBreak {
  seq: number;
  /** Absent when the event is missing altogether (the chain ends before it). */
  id?: string;
  reason: string;
}

/** An event's hash recorded outside the database (the audit files' state, an operator's note of
 * an earlier verify): the chain must still hold that event with that hash. Without one, deleting
 * the newest events, or rewriting the chain from some event on with hashes made again, leaves a
 * chain that verifies. */
export interface ChainAnchor {
  seq: number;
  hash: string;
  /** Where it was recorded, for the report. */
  source: string;
}

export interface ChainReport {
  checked: number;
  firstBreak?: ChainBreak;
  /** The newest event checked: record it to anchor a later verify. */
  head: { seq: number; hash: string } | null;
}

/** The chain's events in order, a batch at a time, in plain SQL (the same shapes Prisma returns):
 * through Prisma, verifying took a third longer (bench:api's check after the change mix). */
const VERIFY_BATCH = 1000;
const verifyBatch = `${AUDIT_SELECT} WHERE "seq" > ? ORDER BY "seq" LIMIT ${VERIFY_BATCH}`;

/** The chain's events after `seq`, in order, a batch at a time (empty at the end). */
export type AuditBatches = (afterSeq: number) => Promise<AuditEvent[]>;

/** The committed chain, read outside any transaction. */
export const committedAuditBatches =
  (ctx: DbContext): AuditBatches =>
  (afterSeq) =>
    ctx.sql.read((sql) => sql.all<AuditEvent>(verifyBatch, [afterSeq]));

/** The chain as a transaction sees it (an import about to commit). */
export const auditBatchesWithin =
  (tx: Tx): AuditBatches =>
  (afterSeq) =>
    tx.auditEvent.findMany({ where: { seq: { gt: afterSeq } }, orderBy: { seq: "asc" }, take: VERIFY_BATCH });

/** Walks the chain in order and reports the first event whose hash or link does not match, or
 * that differs from an anchor, or that an anchor names and the chain no longer holds. */
export function verifyAuditChain(ctx: DbContext, anchors: ChainAnchor[] = []): Promise<ChainReport> {
  return verifyAuditBatches(committedAuditBatches(ctx), anchors);
}

export async function verifyAuditBatches(readBatch: AuditBatches, anchors: ChainAnchor[] = []): Promise<ChainReport> {
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let cursor = 0;
  // Every event before expectedSeq checked out: the newest of them is the head.
  const report = (firstBreak?: ChainBreak): ChainReport => ({
    checked: expectedSeq - 1,
    head: expectedSeq > 1 ? { seq: expectedSeq - 1, hash: prevHash } : null,
    ...(firstBreak ? { firstBreak } : {}),
  });
  for (;;) {
    const batch = await readBatch(cursor);
    if (batch.length === 0) break;
    for (const e of batch) {
      const fail = (reason: string) => report({ seq: e.seq, id: e.id, reason });
      if (e.seq !== expectedSeq) return fail(`expected event #${expectedSeq} here, found #${e.seq} (an event was deleted)`);
      if (e.prevHash !== prevHash) return fail("prevHash does not match the previous event's hash");
      if (hashAuditEvent(e) !== e.hash) return fail("content does not match its hash (the event was edited)");
      const differs = anchors.find((a) => a.seq === e.seq && a.hash !== e.hash);
      if (differs) return fail(`its hash differs from the one ${differs.source} recorded (the chain was rewritten from here or before)`);
      prevHash = e.hash;
      expectedSeq += 1;
    }
    cursor = batch[batch.length - 1]!.seq;
  }
  const beyond = anchors.filter((a) => a.seq >= expectedSeq).sort((a, b) => b.seq - a.seq)[0];
  if (!beyond) return report();
  return report({ seq: expectedSeq, reason: `the chain ends at #${expectedSeq - 1}, but ${beyond.source} recorded event #${beyond.seq} (the newest events were deleted)` });
}

/** `<seq>:<hash>`, as verify prints the head: an anchor an operator noted. */
export function parseChainAnchor(text: string, source: string): ChainAnchor | null {
  const m = /^#?(\d{1,10}):([0-9a-f]{64})$/.exec(text.trim());
  return m ? { seq: Number(m[1]), hash: m[2]!, source } : null;
}

/** How many events a page holds when the caller does not say. */
export const AUDIT_PAGE_SIZE = 100;

const MAX_SEQ = 2 ** 31 - 1;

/** Cursors are opaque to clients; inside they are the seq of the last event shown. */
export function encodeAuditCursor(seq: number): string {
  return Buffer.from(`seq:${seq}`).toString("base64url");
}

export function decodeAuditCursor(cursor: string): number {
  const m = /^seq:(\d{1,10})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  // seq is a 32-bit column: a larger one was never handed out, and PostgreSQL refuses to compare it.
  if (!m || Number(m[1]) > MAX_SEQ) throw badField("querystring.cursor", "not a cursor this list handed out");
  return Number(m[1]);
}

/** Every action an event may carry: the current event types and the legacy names older rows keep. */
const AUDIT_ACTIONS: readonly string[] = [...DOMAIN_EVENT_TYPES, ...LEGACY_AUDIT_ACTIONS];

/**
 * The actions a filter selects: itself, or for a prefix ending in a dot every action that starts
 * with it. Prefixes are resolved against the closed list of actions (every stored row's is one of
 * them: the list's contract parses it) rather than with LIKE, whose `_` wildcard would match too
 * much, or a range, which PostgreSQL's collation would order differently from SQLite's.
 */
function actionsMatching(filter: string): string[] {
  if (!filter.endsWith(".")) return [filter];
  return AUDIT_ACTIONS.filter((a) => a.startsWith(filter));
}

/**
 * Audit events matching the filters, newest first, one page at a time. One plain statement (the
 * same rows Prisma's `findMany` gave, 1.6 ms of CPU a page of 100 through Prisma), planned with
 * its values on every call: whether a filter matches a handful of events or most of the trail
 * decides the plan, and a plan made without them walked the whole trail for a rare one.
 */
export async function findAuditEvents(
  ctx: DbContext,
  query: TAuditListQuery,
): Promise<{ rows: AuditEvent[]; nextCursor?: string }> {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (query.from) {
    where.push(`"at" >= ?`);
    params.push(auditTimeBound(query.from, "from"));
  }
  if (query.to) {
    where.push(`"at" < ?`);
    params.push(auditTimeBound(query.to, "to"));
  }
  if (query.serviceId) {
    where.push(`"serviceId" = ?`);
    params.push(query.serviceId);
  }
  if (query.cursor) {
    where.push(`"seq" < ?`);
    params.push(decodeAuditCursor(query.cursor));
  }
  if (query.action) {
    const actions = actionsMatching(query.action);
    if (actions.length === 0) return { rows: [] };
    where.push(`"action" IN (${actions.map(() => "?").join(", ")})`);
    params.push(...actions);
  }
  const limit = query.limit ?? AUDIT_PAGE_SIZE;
  const page = (extra: string | null) => {
    const clauses = extra ? [extra, ...where] : where;
    return `${AUDIT_SELECT}${clauses.length ? ` WHERE ${clauses.join(" AND ")}` : ""} ORDER BY "seq" DESC LIMIT ?`;
  };
  let text = page(null);
  let values = [...params, limit + 1];
  if (query.actor) {
    // The actor is an id or the username the event recorded. As one filter, "actorId = ? OR
    // actorUsername = ?", no index gives the events in order: the plan either found all of the
    // actor's events to sort them or walked the trail newest first until a page of theirs turned
    // up. Each side alone comes in order off its (…, seq) index and stops at the page; the union
    // keeps an event both sides found once.
    text = `SELECT * FROM (${page(`"actorId" = ?`)}) AS by_id UNION SELECT * FROM (${page(`"actorUsername" = ?`)}) AS by_name ORDER BY "seq" DESC LIMIT ?`;
    values = [query.actor, ...params, limit + 1, query.actor, ...params, limit + 1, limit + 1];
  }
  const rows = await ctx.sql.read((sql) => sql.all<AuditEvent>(text, values, { planPerCall: true }));
  if (rows.length <= limit) return { rows };
  const shown = rows.slice(0, limit);
  return { rows: shown, nextCursor: encodeAuditCursor(shown[shown.length - 1]!.seq) };
}

/** The time range an export query stands for: `[from, to)`. */
export function auditRangeOf(query: TAuditExportQuery): { from: Date; to: Date; label: string } {
  if (query.week) {
    const range = isoWeekRange(query.week);
    if (!range) throw badField("querystring.week", "no such ISO week");
    return { ...range, label: query.week };
  }
  if (!query.from || !query.to) throw badField("querystring.week", "give week (YYYY-Www), or from and to");
  return {
    from: auditTimeBound(query.from, "from"),
    to: auditTimeBound(query.to, "to"),
    label: `${query.from}_${query.to}`,
  };
}

const betweenBatch = `${AUDIT_SELECT} WHERE "at" >= ? AND "at" < ? AND "seq" > ? ORDER BY "seq" LIMIT ?`;

/** Events whose time falls in `[from, to)`, in chain order, read in batches (plain SQL, as for
 * verification: a week's export is tens of thousands of rows). */
export async function* auditEventsBetween(
  ctx: DbContext,
  range: { from: Date; to: Date },
  batchSize = 1000,
): AsyncGenerator<AuditEvent[]> {
  let after = 0;
  for (;;) {
    const batch = await ctx.sql.read((sql) => sql.all<AuditEvent>(betweenBatch, [range.from, range.to, after, batchSize]));
    if (batch.length === 0) return;
    yield batch;
    after = batch[batch.length - 1]!.seq;
    if (batch.length < batchSize) return;
  }
}
