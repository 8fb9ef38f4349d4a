// The groups a change is about to put someone or something in (a user's groups, a service's, an
// OIDC login's groups claim), read so that they stay until the change commits.
import type { SqlRunner } from "@postern/db";
import type { DbContext } from "../../lib/db-context";

/** What a read that holds its rows until the change commits ends with: on PostgreSQL a lock
 * that lets nothing delete them (or change their keys) meanwhile; SQLite's one writer needs none. */
export function holdClause(ctx: DbContext): string {
  return ctx.provider === "postgres" ? " FOR KEY SHARE" : "";
}

/**
 * The groups with these ids (or names), held until the change commits. On PostgreSQL a deletion of
 * one of them then waits for the change and takes the new memberships with it, or has already
 * committed and the group is not found here. Without the hold the deletion could commit between
 * this read and the change's insert, which then failed on its foreign key: a 500, the change lost.
 * SQLite's changes are one writer's turns, and nothing commits between their statements.
 */
export async function heldGroups(ctx: DbContext, sql: SqlRunner, by: "id" | "name", values: string[]): Promise<{ id: string; name: string }[]> {
  if (values.length === 0) return [];
  const list = values.map(() => "?").join(", ");
  return sql.all<{ id: string; name: string }>(`SELECT "id", "name" FROM "Group" WHERE "${by}" IN (${list})${holdClause(ctx)}`, values);
}
