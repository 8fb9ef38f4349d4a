// Group commit for SQLite's plain-SQL transactions. Under load most of a change's cost on SQLite
// was its COMMIT: the WAL frames of every page it touched (the audit chain's and the live log's
// last leaves and their indexes, the same pages change after change) and, every thousand pages,
// a checkpoint copying them back. Transactions asked for in the same turn of the event loop now
// run one after another under one BEGIN IMMEDIATE … COMMIT, and every caller hears only after the
// COMMIT, so nothing is acknowledged (or announced by the change pipeline) that could still be lost.
//
// Each transaction's outcome is still its own, without a SAVEPOINT around each: a savepoint made
// every write copy its pages to a sub-journal, a sixth of a change's CPU. Nearly every failure
// (a refusal, a conflict, a constraint) happens before its transaction has changed a row, and
// SQLite undoes a failed statement by itself; the group simply goes on. A transaction that fails
// after changing rows ends the shared transaction instead, and the group's others run again in
// the next one (nothing of theirs was committed or announced).
import type Database from "better-sqlite3";
import { countQuery } from "./query-count";

/** How many transactions one COMMIT carries at most: bounds the wait of the group's first. */
export const MAX_GROUP = 32;

interface Job<R> {
  fn: (runner: R) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export interface GroupCommitHost<R> {
  /** Waits for the connection's turn; resolves with its release. */
  acquire(): Promise<() => void>;
  client(): Database.Database;
  /** Runs a transaction's callback holding the connection's turn. */
  inScope<T>(fn: () => Promise<T>): Promise<T>;
  runner: R;
  /** Told after each COMMIT. */
  committed?: () => void;
}

export class SqliteGroupCommit<R> {
  private queue: Job<R>[] = [];
  private scheduled = false;
  private changesStatement: { db: Database.Database; stmt: Database.Statement } | undefined;

  constructor(private readonly host: GroupCommitHost<R>) {}

  transaction<T>(fn: (runner: R) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  // setImmediate, not a microtask: the requests that arrived in this turn's poll phase all reach
  // `transaction` before the group starts, and one idle request waits only that turn's end.
  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    const release = await this.host.acquire();
    const group = this.queue.splice(0, MAX_GROUP);
    try {
      await this.run(group);
    } finally {
      release();
      this.scheduled = false;
      this.schedule();
    }
  }

  private exec(sql: string): void {
    countQuery();
    this.host.client().exec(sql);
  }

  /** Rows changed on the connection since it opened (SQLite's `total_changes()`, triggers and all). */
  private totalChanges(): number {
    countQuery();
    const db = this.host.client();
    if (this.changesStatement?.db !== db) this.changesStatement = { db, stmt: db.prepare("SELECT total_changes()").pluck() };
    return this.changesStatement.stmt.get() as number;
  }

  private async run(group: Job<R>[]): Promise<void> {
    try {
      // IMMEDIATE takes the write lock up front (waiting out busy_timeout for another process).
      this.exec("BEGIN IMMEDIATE");
    } catch (error) {
      for (const job of group) job.reject(error);
      return;
    }
    const several = group.length > 1;
    const outcomes: Outcome[] = [];
    for (const job of group) {
      const outcome = await this.attempt(job, several);
      outcomes.push(outcome);
      if (!outcome.ok && !this.host.client().inTransaction) break;
    }
    const db = this.host.client();
    if (!db.inTransaction) {
      this.lost(group, outcomes);
      return;
    }
    if (!outcomes.some((o) => o.ok)) {
      this.rollback();
      settle(group, outcomes);
      return;
    }
    try {
      this.exec("COMMIT");
    } catch (error) {
      // SQLite may already have rolled back (SQLITE_FULL, a failed COMMIT): nothing to undo then.
      if (db.inTransaction) this.rollback();
      for (let i = 0; i < outcomes.length; i++) {
        const outcome = outcomes[i]!;
        group[i]!.reject(outcome.ok ? error : outcome.error);
      }
      return;
    }
    this.host.committed?.();
    settle(group, outcomes);
  }

  /**
   * The shared transaction ended under the last callback run: it failed after changing rows (see
   * `attempt`), or SQLite rolled everything back by itself (SQLITE_FULL, SQLITE_IOERR). What the
   * group's earlier callbacks did went with it: they run again at the head of the next group, with
   * those not yet run (nothing of theirs was committed or announced), so each caller hears of its
   * own outcome.
   */
  private lost(group: Job<R>[], outcomes: Outcome[]): void {
    const last = outcomes.length - 1;
    const again: Job<R>[] = [];
    group.forEach((job, i) => {
      const outcome = outcomes[i];
      if (i === last && outcome?.ok) job.reject(new Error("the SQLite transaction ended before its commit"));
      else if (outcome && !outcome.ok) job.reject(outcome.error);
      else again.push(job);
    });
    this.queue.unshift(...again);
  }

  private async attempt(job: Job<R>, several: boolean): Promise<Outcome> {
    const before = several ? this.totalChanges() : 0;
    try {
      const value = await this.host.inScope(() => job.fn(this.host.runner));
      return { ok: true, value };
    } catch (error) {
      // Rows it changed cannot be undone alone: the shared transaction ends here, and `run` runs
      // the group's others again. A lone transaction's failure rolls it back at the end.
      if (several && this.host.client().inTransaction && this.totalChanges() !== before) this.rollback();
      return { ok: false, error };
    }
  }

  private rollback(): void {
    try {
      this.exec("ROLLBACK");
    } catch {
      // The transaction is gone either way; the callers hear of the first error.
    }
  }
}

function settle<R>(group: Job<R>[], outcomes: Outcome[]): void {
  for (let i = 0; i < outcomes.length; i++) {
    const outcome = outcomes[i]!;
    if (outcome.ok) group[i]!.resolve(outcome.value);
    else group[i]!.reject(outcome.error);
  }
}
