// The LiveEvent table: the numbered log every API instance reads in the same order.
//
// Why the order is global: on PostgreSQL an append takes a transaction-scoped advisory lock
// before it draws the next `seq` from the sequence, and holds it until commit. So seqs are
// committed in increasing order: whoever can see row n can see every row below n, and a reader
// that fetches "seq > last ORDER BY seq" never skips a row that commits later with a smaller
// seq. The NOTIFY is sent in the same transaction, so it is delivered only after the commit.
// The row is written after the change's own transaction (the change is announced after commit):
// a crash in between loses that one event, and clients converge at their next snapshot.
// SQLite has one writer process; its AUTOINCREMENT never reuses a seq.
import type { LiveEvent } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import type { Audience, LiveRecord } from "./live.audience";
import type { TLiveEvent } from "@postern/contracts";

/** Arbitrary constant key for the advisory lock that orders LiveEvent appends (audit uses 7_307_001). */
const LIVE_LOCK_KEY = 7_307_002;
export const LIVE_CHANNEL = "postern_live";

interface StoredPayload {
  event: TLiveEvent;
  audience: Audience;
}

export function recordOf(row: Pick<LiveEvent, "seq" | "payload">): LiveRecord {
  const stored = JSON.parse(row.payload) as StoredPayload;
  return { seq: row.seq, event: stored.event, audience: stored.audience };
}

export async function appendLiveEvent(ctx: DbContext, event: TLiveEvent, audience: Audience): Promise<LiveRecord> {
  const payload = JSON.stringify({ event, audience } satisfies StoredPayload);
  if (ctx.provider === "sqlite") {
    const row = await ctx.db.liveEvent.create({ data: { type: event.type, payload, at: ctx.now() }, select: { seq: true } });
    return { seq: row.seq, event, audience };
  }
  const seq = await ctx.db.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${LIVE_LOCK_KEY})`);
    const rows = await tx.$queryRawUnsafe<{ seq: number }[]>(
      `INSERT INTO "LiveEvent" ("type", "payload", "at") VALUES ($1, $2, $3) RETURNING "seq"`,
      event.type,
      payload,
      ctx.now(),
    );
    const seq = Number(rows[0]?.seq);
    await tx.$executeRawUnsafe(`SELECT pg_notify('${LIVE_CHANNEL}', $1)`, String(seq));
    return seq;
  });
  return { seq, event, audience };
}

/** Events after `since`, oldest first, at most `limit`. */
export async function readLiveEvents(ctx: DbContext, since: number, limit: number): Promise<LiveRecord[]> {
  const rows = await ctx.db.liveEvent.findMany({
    where: { seq: { gt: since } },
    orderBy: { seq: "asc" },
    take: limit,
    select: { seq: true, payload: true },
  });
  return rows.map(recordOf);
}

export async function lastLiveSeq(ctx: DbContext): Promise<number> {
  const row = await ctx.db.liveEvent.findFirst({ orderBy: { seq: "desc" }, select: { seq: true } });
  return row?.seq ?? 0;
}

/** Keeps the newest `keep` events younger than `maxAgeMs`, and always the newest one (so a
 * client that is up to date can still prove it). Returns how many rows were deleted. */
export async function pruneLiveEvents(ctx: DbContext, keep: number, maxAgeMs: number): Promise<number> {
  const last = await lastLiveSeq(ctx);
  if (last === 0) return 0;
  const { count } = await ctx.db.liveEvent.deleteMany({
    where: {
      seq: { lt: last },
      OR: [{ seq: { lte: last - keep } }, { at: { lt: new Date(ctx.now().getTime() - maxAgeMs) } }],
    },
  });
  return count;
}
