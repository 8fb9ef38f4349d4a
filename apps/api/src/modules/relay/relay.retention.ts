// Relay messages that are done with (sent or failed) are deleted once older than
// POSTERN_RELAY_RETAIN_DAYS, or a monitor posting every minute grows the table by half a million
// rows a year, all of them read by the relay page's counts. Every instance prunes on its own:
// deleting what another instance already deleted deletes nothing. Queued messages are never
// deleted, however old: they are still to be delivered. The audit trail keeps that each was
// queued, sent or failed.
import type { DbContext } from "../../lib/db-context";

/** How often each instance looks for messages past their retention. */
export const MESSAGE_PRUNE_EVERY_MS = 3600_000;

/** Deletes sent and failed messages queued more than `retainDays` days ago; 0 keeps them all. */
export async function pruneMessages(ctx: DbContext, retainDays: number): Promise<number> {
  if (retainDays <= 0) return 0;
  const before = new Date(ctx.now().getTime() - retainDays * 86_400_000);
  return ctx.sql.transaction((sql) =>
    sql.run(`DELETE FROM "Message" WHERE "status" IN ('sent', 'failed') AND "createdAt" < ?`, [before]),
  );
}
