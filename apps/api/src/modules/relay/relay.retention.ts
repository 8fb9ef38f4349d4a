// Relay messages that are done with (sent or failed) are deleted once settled more than
// POSTERN_RELAY_RETAIN_DAYS ago, or a monitor posting every minute grows the table by half a
// million rows a year, all of them read by the relay page's counts. Age counts from when the
// message settled (sentAt, failedAt), not from when it was queued: one retried for days must not
// vanish the moment it fails, before an admin could see it had. Every instance prunes on its own:
// deleting what another instance already deleted deletes nothing. Queued messages are never
// deleted, however old: they are still to be delivered. The audit trail keeps that each was
// queued, sent or failed.
import type { DbContext } from "../../lib/db-context";

/** How often each instance looks for messages past their retention. */
export const MESSAGE_PRUNE_EVERY_MS = 3600_000;

/** Each settled status and the column that says when it settled. Each has its `(status, <column>)`
 * index, and the fallback below has `(status, createdAt, id)`: every statement is a range read of
 * an index, never a walk of the whole table. */
const SETTLED = [
  { status: "sent", at: "sentAt" },
  { status: "failed", at: "failedAt" },
] as const;

/** Deletes sent and failed messages settled more than `retainDays` days ago; 0 keeps them all. */
export async function pruneMessages(ctx: DbContext, retainDays: number): Promise<number> {
  if (retainDays <= 0) return 0;
  const before = new Date(ctx.now().getTime() - retainDays * 86_400_000);
  return ctx.sql.transaction(async (sql) => {
    let deleted = 0;
    for (const { status, at } of SETTLED) {
      deleted += await sql.run(`DELETE FROM "Message" WHERE "status" = ? AND "${at}" < ?`, [status, before]);
      // Messages that failed before failedAt was kept (the column came later) have none: when
      // they were queued is all there is to go by.
      deleted += await sql.run(`DELETE FROM "Message" WHERE "status" = ? AND "${at}" IS NULL AND "createdAt" < ?`, [status, before]);
    }
    return deleted;
  });
}
