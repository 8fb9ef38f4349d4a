// The live log (the LiveEvent table): every recorded event, numbered, written in the change's own
// transaction (see lib/run-change.ts), so an acknowledged change is always in it. Every API
// instance reads it in the same order; clients resume from it with `?since=`; a process that did
// not make the change (another instance, the CLI) learns of it here.
//
// Why the order is global: appends happen under the chain lock (a transaction-scoped advisory
// lock on PostgreSQL, taken by `postern_chain_append`; SQLite's single writer) held until commit, so
// seqs are committed in increasing order: whoever can see row n can see every row below n. A
// rolled-back transaction may leave a hole in the numbers, never a late-arriving smaller one.
import type { TDomainEvent } from "@postern/contracts";
import { pgTimestamp, type LiveEvent, type SqlRunner } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import { auditInsert, chainAppendRows, lockChainHead, type AuditInput } from "../audit/audit.service";
import type { Audience } from "./live.audience";

export const LIVE_CHANNEL = "postern_live";

/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; below this the records ride along. */
const NOTIFY_RECORDS_BYTES = 7000;

/**
 * What a NOTIFY on LIVE_CHANNEL says: the change's seqs, comma-separated, and when they fit, `|`
 * and the stored payloads as a JSON array — so another instance needs no read of the log for an
 * ordinary change. `seqs` alone means "read the log".
 */
export function notifiedRecords(payload: string): { seqs: number[]; records?: LogRecord[] } {
  const bar = payload.indexOf("|");
  const seqs = notifiedSeqs(payload);
  if (bar < 0) return { seqs };
  const stored = JSON.parse(payload.slice(bar + 1)) as StoredPayload[];
  if (stored.length !== seqs.length) return { seqs };
  return { seqs, records: stored.map((p, i) => recordFrom(seqs[i]!, p)) };
}

/** Only the seqs of a NOTIFY payload: enough to tell a change this process already has. */
export function notifiedSeqs(payload: string): number[] {
  const bar = payload.indexOf("|");
  return (bar < 0 ? payload : payload.slice(0, bar)).split(",").map(Number);
}

/** The user whose change recorded an event, as the processes that react to it may need to name
 * them (a revocation found after the change ends sessions in their name). Never sent to clients. */
export interface LogActor {
  id: string;
  username: string;
}

/** One event of the log with the audience it was recorded for. */
export interface LogRecord {
  seq: number;
  event: TDomainEvent;
  audience: Audience;
  /** The user who made the change; absent for Postern itself, a token or the CLI. */
  actor?: LogActor;
}

interface StoredPayload {
  event: TDomainEvent;
  audience: Audience;
  actor?: LogActor;
}

const recordFrom = (seq: number, stored: StoredPayload): LogRecord =>
  stored.actor ? { seq, event: stored.event, audience: stored.audience, actor: stored.actor } : { seq, event: stored.event, audience: stored.audience };

export function recordOf(row: Pick<LiveEvent, "seq" | "payload">): LogRecord {
  return recordFrom(row.seq, JSON.parse(row.payload) as StoredPayload);
}

/** Sent right behind a change's COMMIT on PostgreSQL: see `appendLog`. */
const CHAIN_FLUSH = "CALL postern_chain_flush()";

/**
 * Appends a change's audit events to the chain and its events to the log, as the last statement
 * of the caller's transaction, taking the chain lock. On PostgreSQL that is one call of
 * `postern_chain_append` (migration 20261129150000_chain_append): the lock, the chain's head, the
 * hashes, both inserts and the NOTIFY in the database, sent with the COMMIT in one round trip, so
 * the lock is held only while the database runs it. In a plain-SQL transaction the COMMIT does not
 * wait for the disk, so the lock is not held across the flush either: `postern_chain_flush`, sent
 * behind it, waits for the flush and then NOTIFYs, and this resolves only after it, so nothing is
 * answered or announced that could still be lost. SQLite (one writer, in this process): the head
 * is read and the events hashed here.
 */
export async function appendLog(
  ctx: DbContext,
  sql: SqlRunner,
  entries: { event: TDomainEvent; audience: Audience; actor?: LogActor }[],
  audit: AuditInput[],
): Promise<LogRecord[]> {
  const at = ctx.now();
  const payloads = entries.map(({ event, audience, actor }) => JSON.stringify((actor ? { event, audience, actor } : { event, audience }) satisfies StoredPayload));
  if (ctx.provider === "postgres") {
    const carried = `[${payloads.join(",")}]`;
    const tail = Buffer.byteLength(carried) < NOTIFY_RECORDS_BYTES ? `|${carried}` : "";
    const stamp = pgTimestamp(at);
    const live = entries.map(({ event }, i) => [event.type, payloads[i]!, stamp]);
    const params = [JSON.stringify(chainAppendRows(ctx, audit)), JSON.stringify(live), tail];
    // Where this runner sends the COMMIT, the chain lock goes with the commit record and the
    // flush (and NOTIFY) follows in the same write (migration 20261202100000_chain_flush).
    const seqs = sql.finalThen
      ? await sql.finalThen<{ seq: number }>(`SELECT s AS "seq" FROM postern_chain_append(?::jsonb, ?::jsonb, ?, true) AS s`, params, CHAIN_FLUSH)
      : await sql.final<{ seq: number }>(`SELECT s AS "seq" FROM postern_chain_append(?::jsonb, ?::jsonb, ?) AS s`, params);
    return entries.map(({ event, audience, actor }, i) => ({ seq: Number(seqs[i]?.seq), event, audience, ...(actor ? { actor } : {}) }));
  }
  const head = await lockChainHead(ctx, sql);
  if (audit.length > 0) {
    const insert = auditInsert(ctx, head, audit);
    await sql.run(insert.text, insert.params);
  }
  const out: LogRecord[] = [];
  // One row at a time: the order of several rows' RETURNING is not guaranteed.
  for (const [i, { event, audience, actor }] of entries.entries()) {
    const row = await sql.get<{ seq: number }>(`INSERT INTO "LiveEvent" ("type", "payload", "at") VALUES (?, ?, ?) RETURNING "seq"`, [event.type, payloads[i]!, at]);
    out.push({ seq: Number(row?.seq), event, audience, ...(actor ? { actor } : {}) });
  }
  return out;
}

/** A log row as plain SQL reads it. */
type LogRow = { seq: number; payload: string };
const recordOfRow = (row: LogRow): LogRecord => recordOf({ seq: Number(row.seq), payload: row.payload });

/** Events after `since`, oldest first, at most `limit`. Plain SQL: the log is read often (every
 * other process's change, and a poll on SQLite). */
export async function readLog(ctx: DbContext, since: number, limit: number): Promise<LogRecord[]> {
  const rows = await ctx.sql.read((sql) =>
    sql.all<LogRow>(`SELECT "seq", "payload" FROM "LiveEvent" WHERE "seq" > ? ORDER BY "seq" ASC LIMIT ${Math.floor(limit)}`, [since]),
  );
  return rows.map(recordOfRow);
}

export async function lastLogSeq(ctx: DbContext): Promise<number> {
  const row = await ctx.sql.read((sql) => sql.get<{ seq: number }>(`SELECT "seq" FROM "LiveEvent" ORDER BY "seq" DESC LIMIT 1`));
  return row ? Number(row.seq) : 0;
}

/** The newest event of the log, if any. */
export async function lastLogRecord(ctx: DbContext): Promise<LogRecord | undefined> {
  const row = await ctx.sql.read((sql) => sql.get<LogRow>(`SELECT "seq", "payload" FROM "LiveEvent" ORDER BY "seq" DESC LIMIT 1`));
  return row && recordOfRow(row);
}

/** The first event at or after `seq`, if any. */
export async function logRecordFrom(ctx: DbContext, seq: number): Promise<LogRecord | undefined> {
  const row = await ctx.sql.read((sql) => sql.get<LogRow>(`SELECT "seq", "payload" FROM "LiveEvent" WHERE "seq" >= ? ORDER BY "seq" ASC LIMIT 1`, [seq]));
  return row && recordOfRow(row);
}

/** The oldest seq the log still holds (0 when empty). */
export async function firstLogSeq(ctx: DbContext): Promise<number> {
  const row = await ctx.sql.read((sql) => sql.get<{ seq: number }>(`SELECT "seq" FROM "LiveEvent" ORDER BY "seq" ASC LIMIT 1`));
  return row ? Number(row.seq) : 0;
}

/**
 * Keeps the newest `keep` events younger than `maxAgeMs`, and always the newest one (so a client
 * that is up to date can still prove it). Deletes a strict prefix of the log, even when clocks of
 * several instances disagree about `at`: whoever still finds a row at or below their cursor knows
 * nothing after it was pruned (live.hub.ts, replay). Returns how many rows were deleted.
 */
export async function pruneLog(ctx: DbContext, keep: number, maxAgeMs: number): Promise<number> {
  const last = await lastLogSeq(ctx);
  if (last === 0) return 0;
  const newestDoomed = await ctx.db.liveEvent.findFirst({
    where: {
      seq: { lt: last },
      OR: [{ seq: { lte: last - keep } }, { at: { lt: new Date(ctx.now().getTime() - maxAgeMs) } }],
    },
    orderBy: { seq: "desc" },
    select: { seq: true },
  });
  if (!newestDoomed) return 0;
  const { count } = await ctx.db.liveEvent.deleteMany({ where: { seq: { lte: newestDoomed.seq } } });
  return count;
}
