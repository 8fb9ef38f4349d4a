// Plain SQL on the same database Prisma uses, for the hot paths where Prisma's per-query cost
// (its query compiler, interpreter and adapter: about a millisecond a statement here) dominates.
// One dialect for both providers: `?` placeholders, double-quoted identifiers; values come back
// normalised (Date for timestamps, boolean for booleans, number for integers) whichever database
// answered.
//
// SQLite: the statements run on Prisma's own better-sqlite3 connection, under the same lock that
// serialises Prisma's transactions (sqlite-serial.ts), with prepared statements cached — tens of
// microseconds each. PostgreSQL: a small pool of its own.
import type Database from "better-sqlite3";
import type pg from "pg";
import type { Tx } from "./index";
import { countQuery } from "./query-count";
import { SqliteGroupCommit } from "./sqlite-group-commit";
import type { SerialSqliteFactory } from "./sqlite-serial";

export type SqlValue = string | number | boolean | Date | null;
export type SqlRow = Record<string, SqlValue>;

/** How a statement is run. */
export interface StatementOptions {
  /**
   * PostgreSQL: plan it with this call's values every time, as an unnamed statement, instead of
   * keeping it prepared. For reads whose filters match a handful of rows or most of the table
   * depending on the values (the audit page's): after five runs PostgreSQL may keep a plan made
   * without them, which has to guess. Planning costs a fraction of a millisecond. SQLite plans a
   * statement the same way whatever its values: nothing changes there.
   */
  planPerCall?: boolean;
}

export interface SqlRunner {
  all<T extends object = SqlRow>(sql: string, params?: SqlValue[], options?: StatementOptions): Promise<T[]>;
  get<T extends object = SqlRow>(sql: string, params?: SqlValue[]): Promise<T | undefined>;
  /** Runs a statement; resolves with the number of rows it changed. */
  run(sql: string, params?: SqlValue[]): Promise<number>;
  /** Several statements without parameters, in order, each seeing what the ones before it did
   * (PostgreSQL: a fresh snapshot per statement); one round trip where the database allows it.
   * Resolves with each statement's rows. */
  script(statements: string[]): Promise<SqlRow[][]>;
  /** A write whose answer the caller does not need. PostgreSQL sends it at once without waiting
   * for it, so it shares a round trip with the statement after it; should it fail, that statement
   * (or the commit) throws its error. SQLite runs it at once and throws there. */
  send(sql: string, params?: SqlValue[]): void;
  /** The last statement of a `transaction()`: on PostgreSQL its COMMIT goes out in the same round
   * trip, and nothing may be sent after it. Elsewhere the same as `all`. */
  final<T extends object = SqlRow>(sql: string, params?: SqlValue[]): Promise<T[]>;
  /** PostgreSQL, in `transaction()` only: `final`, with `after` sent right behind the COMMIT in the
   * same write, outside the transaction. Resolves once `after` has been answered too, and throws
   * its error. Absent where the COMMIT is not this runner's to send. */
  readonly finalThen?: <T extends object = SqlRow>(sql: string, params: SqlValue[], after: string) => Promise<T[]>;
}

export interface SqlDatabase {
  /** One write transaction of its own: PostgreSQL a pooled client; SQLite a turn inside a
   * `BEGIN IMMEDIATE … COMMIT` it may share with the other transactions asked for in the same
   * turn (sqlite-group-commit.ts). Resolves after the COMMIT; rolled back when `fn` throws. On
   * SQLite `fn` may run a second time should the shared transaction end under a later one (it
   * failed after changing rows, or the disk is full): it must do nothing outside the transaction. */
  transaction<T>(fn: (sql: SqlRunner) => Promise<T>): Promise<T>;
  /** Statements inside a Prisma interactive transaction, in that very transaction. */
  within(tx: Tx): SqlRunner;
  /** Plain reads of committed data, outside any transaction (SQLite: in the connection's turn).
   * `fn` reads through the runner it is given and nothing else: on SQLite a Prisma query inside it
   * would wait for the very turn it holds. */
  read<T>(fn: (sql: SqlRunner) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** PostgreSQL: whether the server process with this pid (a NOTIFY's sender) is one of this
   * pool's connections, so that a change it notified is this process's own. */
  isOwnConnection?(backendPid: number): boolean;
}

// ---- SQLite ----

/** Statements kept prepared per connection (and `?` → `$n` rewrites kept): callers that build
 * `IN (?, ?, …)` lists make one text per list length, so the cache is bounded, oldest out first,
 * rather than holding a native statement for every length ever seen. */
const STATEMENT_CACHE = 256;

/** Prisma's SQLite adapter stores timestamps as ISO 8601 with an explicit offset. */
const sqliteTime = (d: Date) => d.toISOString().replace("Z", "+00:00");

function sqliteParam(v: SqlValue): string | number | null {
  if (v instanceof Date) return sqliteTime(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  return v;
}

/** Makes a statement's row from its raw values. */
type RowMaker = (values: unknown[]) => SqlRow;

/**
 * The row maker of a statement: one object literal with its columns, compiled once per prepared
 * statement (Fastify compiles its serialisers the same way). Built key by key in a loop shared by
 * every statement, each row walked V8's map transitions through a megamorphic store, and asking
 * the statement for its columns on every call made better-sqlite3 build and internalise five
 * strings per column: 25–40 µs for an 18-column read on a slow VM, against 4–7 µs now. The names
 * are SQLite's column names, written as JSON string literals; timestamps and booleans are
 * converted as the row is made (the column's declared type, as Prisma's adapter does).
 */
function rowMaker(columns: Database.ColumnDefinition[]): RowMaker {
  const fields = columns.map((column, i) => {
    const type = (column.type ?? "").toUpperCase();
    const v = `v[${i}]`;
    const value =
      type === "DATETIME" ? `${v} === null ? null : new Date(${v})` : type === "BOOLEAN" ? `${v} === null ? null : ${v} === 1 || ${v} === true` : v;
    return `${JSON.stringify(column.name)}: ${value}`;
  });
  return new Function("v", `return { ${fields.join(", ")} };`) as RowMaker;
}

class SqliteRunner implements SqlRunner {
  private readonly statements = new Map<string, { stmt: Database.Statement; make: RowMaker | null }>();
  private preparedOn: Database.Database | undefined;

  constructor(private readonly client: () => Database.Database) {}

  private prepare(sql: string) {
    const client = this.client();
    // Statements belong to a connection: a reconnected client starts a fresh cache.
    if (client !== this.preparedOn) {
      this.statements.clear();
      this.preparedOn = client;
    }
    let entry = this.statements.get(sql);
    if (!entry) {
      const stmt = client.prepare(sql);
      if (stmt.reader) stmt.raw(true).safeIntegers(false);
      entry = { stmt, make: null };
      if (this.statements.size >= STATEMENT_CACHE) this.statements.delete(this.statements.keys().next().value!);
      this.statements.set(sql, entry);
    }
    return entry;
  }

  private rows<T>(sql: string, params: SqlValue[]): T[] {
    countQuery();
    const entry = this.prepare(sql);
    const raw = entry.stmt.all(...params.map(sqliteParam)) as unknown[][];
    entry.make ??= rowMaker(entry.stmt.columns());
    return raw.map(entry.make) as T[];
  }

  async all<T extends object = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    return this.rows<T>(sql, params);
  }

  async get<T extends object = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T | undefined> {
    return this.rows<T>(sql, params)[0];
  }

  async run(sql: string, params: SqlValue[] = []): Promise<number> {
    const { stmt } = this.prepare(sql);
    if (stmt.reader) return this.rows(sql, params).length;
    countQuery();
    return stmt.run(...params.map(sqliteParam)).changes;
  }

  async script(statements: string[]): Promise<SqlRow[][]> {
    return statements.map((statement) => this.rows<SqlRow>(statement, []));
  }

  send(sql: string, params: SqlValue[] = []): void {
    const { stmt } = this.prepare(sql);
    countQuery();
    stmt.run(...params.map(sqliteParam));
  }

  async final<T extends object = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    return this.rows<T>(sql, params);
  }
}

export function sqliteSql(factory: SerialSqliteFactory, committed?: () => void): SqlDatabase {
  const runner = new SqliteRunner(() => factory.client());
  const group = new SqliteGroupCommit<SqlRunner>({
    acquire: () => factory.lock.acquire(),
    client: () => factory.client(),
    inScope: (fn) => factory.inScope(fn),
    runner,
    committed,
  });
  return {
    within: () => runner,
    read: async (fn) => {
      const release = await factory.lock.acquire();
      try {
        // Not in the turn's scope (factory.inScope): nothing here goes through Prisma, and
        // entering the scope turns AsyncLocalStorage on and off again, about 5 µs a read.
        return await fn(runner);
      } finally {
        release();
      }
    },
    transaction: (fn) => group.transaction(fn),
    close: async () => {},
  };
}

// ---- PostgreSQL ----

/** `timestamp(3)` without time zone holds UTC here (Prisma writes it so): read it as UTC, not local time. */
const TIMESTAMP_OID = 1114;

/** A time as PostgreSQL's `timestamp(3)` without time zone takes it: the UTC wall clock, since
 * such a column ignores any offset it is given. */
export function pgTimestamp(d: Date): string {
  return d.toISOString().replace("Z", "");
}

function pgParams(params: SqlValue[]): unknown[] {
  return params.map((v) => (v instanceof Date ? pgTimestamp(v) : v));
}

/** `?` placeholders → `$1, $2, …` (statements here never hold a literal `?`). */
const numbered = new Map<string, string>();
function toPg(sql: string): string {
  let out = numbered.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    if (numbered.size >= STATEMENT_CACHE) numbered.delete(numbered.keys().next().value!);
    numbered.set(sql, out);
  }
  return out;
}

/**
 * Names for the statements the hot paths repeat, so each pooled connection parses and plans them
 * once (node-postgres prepares a named statement on first use per connection) instead of on every
 * call — most of PostgreSQL's CPU per change otherwise. The first PREPARED_STATEMENTS texts get
 * names for the life of the process: a connection never holds more prepared statements than
 * that, whatever texts come later (those run unnamed, as before).
 */
const PREPARED_STATEMENTS = 256;
const statementNames = new Map<string, string>();
function pgQuery(sql: string, params: SqlValue[], options?: StatementOptions): pg.QueryConfig {
  const text = toPg(sql);
  if (options?.planPerCall) return { text, values: pgParams(params) };
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < PREPARED_STATEMENTS) {
    name = `postern_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return { name, text, values: pgParams(params) };
}

/**
 * Statements on one pooled client (a transaction's) or on the pool (plain reads). The client runs
 * in node-postgres's pipeline mode: a statement goes out as soon as it is issued, behind any still
 * unanswered, and PostgreSQL answers them in order. So a change's BEGIN, its `send`s and the read
 * after them, or its last write and the COMMIT, cost one round trip between them instead of one
 * each, and the chain lock (audit.service.ts) is held for fewer of them.
 */
class PgRunner implements SqlRunner {
  /** Writes sent and not yet known to have succeeded; they never reject (see `send`). */
  private inFlight: Promise<unknown>[] = [];
  /** The first error among them: the one to report, ahead of the "transaction is aborted" errors
   * PostgreSQL answers every later statement of the transaction with. */
  private failure: unknown;
  /** The COMMIT went out (with `final`, or by `commit`). */
  private committed = false;
  /** The socket's writes are held back until the end of this tick (`gather`). */
  private corked = false;
  /** A statement sent after the COMMIT failed: the connection's session may hold what that
   * statement was to consume, so it is not handed out again. */
  discard = false;
  readonly finalThen?: SqlRunner["finalThen"];

  constructor(
    private readonly client: pg.ClientBase | pg.Pool,
    /** A transaction's client (else the pool, for reads outside any transaction). */
    private readonly transactional = false,
  ) {
    if (transactional) this.finalThen = (sql, params, after) => this.finish(sql, params, after);
  }

  private issue(sql: string, params: SqlValue[], options?: StatementOptions): Promise<pg.QueryResult> {
    countQuery();
    this.gather();
    return this.client.query(pgQuery(sql, params, options));
  }

  private issueCommit(): Promise<pg.QueryResult> {
    countQuery();
    this.gather();
    this.committed = true;
    return this.client.query("COMMIT");
  }

  /**
   * Holds back the socket's writes until the end of this tick, so statements issued together go
   * out in one write: on this kind of machine a loopback write costs a tenth of a millisecond or
   * more, more than most of these statements take to run. node-postgres writes each statement
   * separately (it corks around one statement only; corks nest).
   */
  private gather(): void {
    if (this.corked || !this.transactional) return;
    const stream = (this.client as unknown as { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection?.stream;
    if (!stream?.cork || !stream.uncork) return;
    this.corked = true;
    stream.cork();
    process.nextTick(() => {
      this.corked = false;
      stream.uncork!();
    });
  }

  /** Waits for `query` and every write sent before it; throws the first failure among them. */
  private async settle<T>(query: Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await query;
    } catch (err) {
      await this.drain();
      throw this.failure ?? err;
    }
    await this.drain();
    if (this.failure !== undefined) throw this.failure;
    return result;
  }

  private async drain(): Promise<void> {
    if (this.inFlight.length === 0) return;
    const sent = this.inFlight;
    this.inFlight = [];
    await Promise.all(sent);
  }

  async all<T extends object = SqlRow>(sql: string, params: SqlValue[] = [], options?: StatementOptions): Promise<T[]> {
    return (await this.settle(this.issue(sql, params, options))).rows as T[];
  }
  async get<T extends object = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
  async run(sql: string, params: SqlValue[] = []): Promise<number> {
    return (await this.settle(this.issue(sql, params))).rowCount ?? 0;
  }

  async script(statements: string[]): Promise<SqlRow[][]> {
    // Each a prepared statement of its own, sent together: PostgreSQL runs them in order, each
    // with a fresh snapshot, in one round trip, without parsing and planning them every time.
    // On the pool (no transaction) each could take another client: one after the other there.
    if (!this.transactional) {
      const out: SqlRow[][] = [];
      for (const statement of statements) out.push(await this.all(statement));
      return out;
    }
    const results = statements.map((statement) => this.issue(statement, []));
    return (await Promise.all(results.map((result) => this.settle(result)))).map((r) => r.rows as SqlRow[]);
  }

  send(sql: string, params: SqlValue[] = []): void {
    // On the pool each statement may take another client: a write sent unwaited could overtake.
    if (!this.transactional) throw new Error("send() is for statements inside a transaction");
    this.inFlight.push(
      this.issue(sql, params).catch((err: unknown) => {
        this.failure ??= err;
      }),
    );
  }

  async final<T extends object = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    if (!this.transactional) return this.all<T>(sql, params);
    return this.finish<T>(sql, params);
  }

  /** The last statement, the COMMIT and, behind it, `after` when given: one write. */
  private async finish<T extends object>(sql: string, params: SqlValue[], after?: string): Promise<T[]> {
    const last = this.issue(sql, params);
    const commit = this.issueCommit();
    const follower = after === undefined ? undefined : this.issue(after, []);
    // Should the statement fail, the transaction is aborted and PostgreSQL answers this COMMIT
    // with a ROLLBACK; the statement's own error is the one to report.
    commit.catch(() => {});
    follower?.catch(() => {
      this.discard = true;
    });
    const rows = (await this.settle(last)).rows as T[];
    await commit;
    await follower;
    return rows;
  }

  /** Ends the transaction, unless `final` already did; throws the first failure of a write sent. */
  async commit(): Promise<void> {
    if (this.committed) return;
    await this.settle(this.issueCommit());
  }
}

/** Inside a Prisma transaction on PostgreSQL: raw statements through Prisma, on its connection
 * (Prisma types the parameters itself, Dates included). */
class PrismaTxRunner implements SqlRunner {
  /** The last write `send` chained; statements issued after it wait for it, and fail with its error. */
  private pending: Promise<unknown> = Promise.resolve();

  constructor(private readonly tx: Tx) {}

  private async after<T>(next: () => Promise<T>): Promise<T> {
    await this.pending;
    return next();
  }
  async all<T extends object = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    return this.after(() => this.tx.$queryRawUnsafe<T[]>(toPg(sql), ...params));
  }
  async get<T extends object = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
  async run(sql: string, params: SqlValue[] = []): Promise<number> {
    return this.after(() => this.tx.$executeRawUnsafe(toPg(sql), ...params));
  }
  async script(statements: string[]): Promise<SqlRow[][]> {
    const out: SqlRow[][] = [];
    for (const statement of statements) out.push(await this.all(statement));
    return out;
  }
  send(sql: string, params: SqlValue[] = []): void {
    // Prisma runs a transaction's statements one at a time anyway: the write goes in front of
    // whatever is issued next, which throws its error should it fail.
    const sent = this.run(sql, params);
    sent.catch(() => {});
    this.pending = sent;
  }
  async final<T extends object = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    return this.all<T>(sql, params);
  }
}

/**
 * The pools' connections stay open through a quiet spell. node-postgres closes a connection idle
 * for 10 s by default, and on a small team's board most clicks come after a longer quiet than
 * that: each then waited for a new connection (TCP, start-up, authentication, and the hot paths'
 * statements prepared again on it), 20–35 ms on these machines against the few the change itself
 * takes. The pools still open no more connections than the busiest moment needed. TCP keepalive
 * finds a connection a firewall or a restarted database dropped while it was idle: the pool
 * then removes it, as it does any connection that fails (the live log's LISTEN connection takes
 * the same keepalive, and reconnects).
 */
export const KEEP_CONNECTIONS = { idleTimeoutMillis: 0, keepAlive: true, keepAliveInitialDelayMillis: 60_000 } as const;

/** Loaded only for PostgreSQL: `pg` costs an embedded SQLite start-up time for nothing. */
export async function postgresSql(url: string, poolSize: number): Promise<SqlDatabase> {
  const { default: pgModule } = await import("pg");
  const types = {
    getTypeParser: (oid: number, format?: "text" | "binary") =>
      oid === TIMESTAMP_OID ? (v: string) => new Date(`${v.replace(" ", "T")}Z`) : pgModule.types.getTypeParser(oid, format),
  };
  const pool = new pgModule.Pool({ connectionString: url, max: poolSize, types, pipeline: true, ...KEEP_CONNECTIONS });
  // An idle client losing its connection (database restart) must not take the process down.
  pool.on("error", () => {});
  // The server process behind each pooled connection (node-postgres keeps it from the startup's
  // BackendKeyData), to tell this process's own NOTIFYs from another's.
  const backends = new Set<number>();
  const backendOf = (client: pg.PoolClient) => (client as unknown as { processID?: number | null }).processID;
  pool.on("connect", (client) => {
    const pid = backendOf(client);
    if (pid) backends.add(pid);
  });
  pool.on("remove", (client) => {
    const pid = backendOf(client);
    if (pid) backends.delete(pid);
  });
  const poolRunner = new PgRunner(pool);
  const txRunners = new WeakMap<Tx, PrismaTxRunner>();
  return {
    within: (tx) => {
      // One runner per transaction, so a write sent through it is waited for by what comes next.
      let runner = txRunners.get(tx);
      if (!runner) txRunners.set(tx, (runner = new PrismaTxRunner(tx)));
      return runner;
    },
    read: (fn) => fn(poolRunner),
    isOwnConnection: (pid) => backends.has(pid),
    transaction: async (fn) => {
      const client = await pool.connect();
      const runner = new PgRunner(client, true);
      let broken = false;
      try {
        // Sent, not waited for: it goes out with the transaction's first statement.
        runner.send("BEGIN");
        try {
          const result = await fn(runner);
          await runner.commit();
          return result;
        } catch (err) {
          await client.query("ROLLBACK").catch(() => (broken = true));
          throw err;
        }
      } finally {
        client.release(broken || runner.discard);
      }
    },
    close: () => pool.end(),
  };
}
