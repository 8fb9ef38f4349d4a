// Lands another change between two statements of one Prisma call, deterministically: the next
// statement whose text starts with `prefix` (after `skip` such statements) first waits for
// `meanwhile`. Prisma reads an include
// in one statement per relation, and a change that commits between them is what a busy server
// meets now and then; here it happens every time.
//
// PostgreSQL: the hook sits in node-postgres, which Prisma's adapter and the test share, and may
// await anything (a request to the app on another connection). SQLite: better-sqlite3 runs
// statements synchronously on one connection, so `meanwhile` must be synchronous too, and writes
// through a connection of its own (`sqliteWriter`) as another process would.
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import pg from "pg";
import type { Provider } from "@postern/db";

export interface Interleaving {
  /** Whether the statement came and `meanwhile` ran. */
  readonly happened: boolean;
  restore(): void;
}

export function beforeStatement(provider: Provider, prefix: string, meanwhile: () => Promise<unknown> | unknown, skip = 0): Interleaving {
  const state = { happened: false, armed: true, skipped: 0 };
  const matches = (text: unknown) => {
    if (!state.armed || typeof text !== "string" || !text.startsWith(prefix)) return false;
    if (state.skipped < skip) {
      state.skipped += 1;
      return false;
    }
    return true;
  };
  if (provider === "postgres") {
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = proto.query;
    proto.query = function (this: unknown, ...args: unknown[]) {
      const first = args[0];
      const text = typeof first === "string" ? first : (first as { text?: unknown } | undefined)?.text;
      if (!matches(text)) return original.apply(this, args);
      state.armed = false;
      return Promise.resolve(meanwhile()).then(() => {
        state.happened = true;
        return original.apply(this, args);
      });
    };
    return { get happened() { return state.happened; }, restore: () => void (proto.query = original) };
  }
  const proto = Database.prototype as unknown as { prepare: (source: string) => unknown };
  const original = proto.prepare;
  proto.prepare = function (this: unknown, source: string) {
    if (matches(source)) {
      state.armed = false;
      const result = meanwhile();
      if (result instanceof Promise) throw new Error("beforeStatement: on SQLite, meanwhile must be synchronous");
      state.happened = true;
    }
    return original.call(this, source);
  };
  return { get happened() { return state.happened; }, restore: () => void (proto.prepare = original) };
}

/** A second connection to a test app's SQLite file (`file:…` URL), with foreign keys on as Postern's. */
export function sqliteWriter(url: string): Database.Database {
  const db = new Database(url.replace(/^file:/, ""));
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 2000");
  return db;
}

/** PostgreSQL: resolves once `other` (a change started between two statements of another) has
 * finished, or waits on a lock, as it does when the first change holds what it needs. */
export async function finishedOrWaiting(watcher: pg.Client, other: Promise<unknown>): Promise<void> {
  let finished = false;
  void other.finally(() => (finished = true));
  for (;;) {
    if (finished) return;
    const { rows } = await watcher.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (rows[0]!.n > 0) return;
    await sleep(5);
  }
}
