// What service functions receive: the database handle, which provider it is, and the clock.
import type { Db, Provider, Tx } from "@postern/db";

export interface DbContext {
  db: Db;
  provider: Provider;
  /** Injected so tests can move time; production uses the wall clock. */
  now: () => Date;
}

/** Runs `fn` in one interactive transaction with limits generous enough for SQLite's queue. */
export function inTransaction<T>(ctx: DbContext, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return ctx.db.$transaction(fn, { maxWait: 10_000, timeout: 20_000 });
}

/**
 * Serialises writers on one row across API instances. PostgreSQL takes a row lock; SQLite
 * needs nothing because its transactions already run one at a time.
 */
export async function lockRow(ctx: DbContext, tx: Tx, table: string, id: string): Promise<void> {
  if (ctx.provider === "postgres") {
    await tx.$queryRawUnsafe(`SELECT 1 FROM "${table}" WHERE "id" = $1 FOR UPDATE`, id);
  }
}
