// Logins that have ended (expired, logged out, ended by a password change or a disable) are kept
// by nothing: every check treats a missing row as an ended login, and the audit trail keeps who
// logged in when. Left in place they pile up: a script trading Basic credentials for a token
// every minute adds half a million rows a year, and ending a user's logins updates every row of
// theirs not yet marked.
import type { DbContext } from "../../lib/db-context";

/** How long an ended login's row stays: a margin for instances whose clocks disagree. */
export const ENDED_LOGIN_KEEP_MS = 3600_000;
/** Logins opened in a process between two prunings: a scan of the table (no index on the times)
 * is little against that many password checks or provider round trips. */
export const PRUNE_EVERY = 200;
let openedSincePrune = 0;

export async function pruneEndedLogins(ctx: DbContext): Promise<number> {
  const before = new Date(ctx.now().getTime() - ENDED_LOGIN_KEEP_MS);
  return ctx.sql.transaction((sql) => sql.run(`DELETE FROM "LoginSession" WHERE "expiresAt" < ? OR "revokedAt" < ?`, [before, before]));
}

/** Called before a login is opened, so that a failed pruning refuses it whole; prunes once in
 * every PRUNE_EVERY. */
export async function loginOpening(ctx: DbContext): Promise<void> {
  if (++openedSincePrune < PRUNE_EVERY) return;
  openedSincePrune = 0;
  await pruneEndedLogins(ctx);
}
