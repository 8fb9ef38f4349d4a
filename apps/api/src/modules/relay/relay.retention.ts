// Relay messages that are done with (sent or failed) are deleted once settled more than
// POSTERN_RELAY_RETAIN_DAYS ago, or a monitor posting every minute grows the table by half a
// million rows a year, all of them read by the relay page's counts. Age counts from when the
// message settled (sentAt, failedAt), not from when it was queued: one retried for days must not
// vanish the moment it fails, before an admin could see it had. Every instance prunes on its own:
// deleting what another instance already deleted deletes nothing. Queued messages are never
// deleted, however old: they are still to be delivered. The audit trail keeps that each was
// queued, sent or failed, and when it was pruned.
import type { SqlValue } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import { runSqlChange, SYSTEM } from "../../lib/run-change";

/** How often each instance looks for messages past their retention. */
export const MESSAGE_PRUNE_EVERY_MS = 3600_000;

/** Each settled status and the column that says when it settled. Each has its `(status, <column>)`
 * index, and the fallback below has `(status, createdAt, id)`: every statement is a range read of
 * an index, never a walk of the whole table. */
const SETTLED = [
  { status: "sent", at: "sentAt" },
  { status: "failed", at: "failedAt" },
] as const;

/** Messages deleted per transaction: a backlog (retention shortened, or first switched on) goes
 * in short transactions that hold the write lock briefly, each announced by an event of a
 * bounded size. */
export const PRUNE_BATCH = 500;

/**
 * Deletes sent and failed messages settled more than `retainDays` days ago; 0 keeps them all.
 * Each batch is one change of the system's: a `message.pruned` event naming the deleted ids
 * commits with it, and after the commit the dispatcher tells the live stream, so an admin's
 * relay page drops the rows. Only the ids this instance's statements deleted are named (RETURNING):
 * a row another instance pruned first is not announced twice.
 */
export async function pruneMessages(ctx: DbContext, retainDays: number, batch = PRUNE_BATCH): Promise<number> {
  if (retainDays <= 0) return 0;
  const before = new Date(ctx.now().getTime() - retainDays * 86_400_000);
  let total = 0;
  for (;;) {
    const ids = await runSqlChange(ctx, SYSTEM, async (sql, record) => {
      const deleted: string[] = [];
      const take = async (where: string, params: SqlValue[]) => {
        if (deleted.length >= batch) return;
        const rows = await sql.all<{ id: string }>(
          `DELETE FROM "Message" WHERE "id" IN (SELECT "id" FROM "Message" WHERE ${where} LIMIT ?) RETURNING "id"`,
          [...params, batch - deleted.length],
        );
        deleted.push(...rows.map((r) => r.id));
      };
      for (const { status, at } of SETTLED) {
        await take(`"status" = ? AND "${at}" < ?`, [status, before]);
        // Messages that failed before failedAt was kept (the column came later) have none: when
        // they were queued is all there is to go by.
        await take(`"status" = ? AND "${at}" IS NULL AND "createdAt" < ?`, [status, before]);
      }
      if (deleted.length > 0) record({ type: "message.pruned", ids: deleted, retainDays });
      return deleted;
    });
    total += ids.length;
    if (ids.length < batch) return total;
  }
}
