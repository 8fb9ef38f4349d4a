// A user's row read and held for a change that relies on it staying as read: a login about to be
// opened, a token about to be made for its owner. On PostgreSQL the row is held FOR SHARE until
// the change commits, so a password reset or a disable (which takes the row's lock, then ends the
// user's logins and revokes their tokens) either committed first and is seen here, or waits and
// then finds what this change made. It blocks neither other such changes nor rows that refer to
// the user. On SQLite the write transaction runs alone.
import type { Tx } from "@postern/db";
import type { DbContext } from "../../lib/db-context";

export interface HeldUser {
  id: string;
  username: string;
  disabled: boolean;
  passwordHash: string | null;
}

export async function heldUser(ctx: DbContext, tx: Tx, id: string): Promise<HeldUser | null> {
  if (ctx.provider !== "postgres") return tx.user.findUnique({ where: { id }, select: { id: true, username: true, disabled: true, passwordHash: true } });
  const rows = await tx.$queryRawUnsafe<HeldUser[]>(`SELECT "id", "username", "disabled", "passwordHash" FROM "User" WHERE "id" = $1 FOR SHARE`, id);
  return rows[0] ?? null;
}
