// What service functions receive: the database handle, which provider it is, the clock, and
// where committed changes go.
import { inTransactionScope, type Db, type Provider, type Tx } from "@postern/db";
import type { ChangeSink } from "./run-change";

export interface DbContext {
  db: Db;
  provider: Provider;
  /** Injected so tests can move time; production uses the wall clock. */
  now: () => Date;
  /** Told of every change this process commits (see run-change.ts). */
  changes: ChangeSink;
}

/**
 * Runs `fn` in one interactive transaction with limits generous enough for SQLite's queue.
 * On SQLite every query, in a transaction or not, takes its turn on the one connection
 * (see prisma/src/sqlite-serial.ts), so plain `ctx.db` reads never see another transaction's
 * uncommitted rows and plain writes never join it. Inside `fn`, use `tx`. Changes go through
 * `runChange`, which records their events; plain `inTransaction` is for consistent reads.
 */
export function inTransaction<T>(ctx: DbContext, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return ctx.db.$transaction((tx) => inTransactionScope(ctx.db, () => fn(tx)), { maxWait: 10_000, timeout: 20_000 });
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
