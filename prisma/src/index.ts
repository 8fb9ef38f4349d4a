// Opens Postern's database from a URL (SQLite `file:` or `postgres://`) and applies migrations.
// Both providers share one model, so the SQLite client's types describe either at run time.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient as SqliteClient, Prisma } from "../generated/sqlite/client";
import { configPath, prismaBin, type Provider } from "../scripts/providers";
import { registerSerialClient, SerialSqliteFactory } from "./sqlite-serial";
import { countingFactory } from "./query-count";
import { KEEP_CONNECTIONS, postgresSql, sqliteSql, type SqlDatabase } from "./sql";
import { LazyWalCheckpointer } from "./wal-checkpointer";

export type Db = SqliteClient;
export type Tx = Prisma.TransactionClient;
export { Prisma };
export type {
  AccessSession,
  Agent,
  ApiToken,
  AuditEvent,
  Group,
  GroupMember,
  Identity,
  LiveEvent,
  LoginSession,
  Message,
  Service,
  ServiceGroup,
  User,
} from "../generated/sqlite/client";
export type { Provider };
export { inTransactionScope } from "./sqlite-serial";
export { pendingMigrations, shippedMigrations } from "./migration-status";
export { queriesSent } from "./query-count";
export type { SqlDatabase, SqlRow, SqlRunner, SqlValue, StatementOptions } from "./sql";
export { KEEP_CONNECTIONS, pgTimestamp } from "./sql";
export type { LazyWalCheckpointer } from "./wal-checkpointer";
export { newId } from "./ids";
export { BackupError, backupSqlite, inspectSqliteBackup, pgDumpAdvice, restoreSqlite } from "./backup";
export { appliedMigrations, countRows, exportLines, importLines, modelNames, TransferError, type ExportHeader } from "./transfer";

export function providerOf(url: string): Provider {
  if (url.startsWith("file:")) return "sqlite";
  if (/^postgres(ql)?:\/\//.test(url)) return "postgres";
  throw new Error(`DATABASE_URL must start with file: (SQLite) or postgres:// (PostgreSQL), got "${redactUrl(url)}"`);
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}

/** The file behind a SQLite URL (`file:./data/postern.db?…`), resolved against the working directory. */
export function sqliteFileOf(url: string): string {
  return path.resolve(url.slice("file:".length).split("?")[0] ?? "");
}

/** The files a SQLite database lives in: the database, its write-ahead log and shared memory. */
export function sqliteFilesOf(file: string): string[] {
  return [file, `${file}-wal`, `${file}-shm`];
}

/**
 * The database holds password hashes and ID tokens: owner-only. A new file is created 0600
 * before SQLite opens it, because SQLite gives its -wal and -shm the database file's mode; an
 * existing one (and its companions) is narrowed to 0600.
 */
export function restrictSqliteFiles(file: string): void {
  if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, "a", 0o600));
  for (const f of sqliteFilesOf(file)) {
    try {
      if ((fs.statSync(f).mode & 0o077) !== 0) fs.chmodSync(f, 0o600);
    } catch {
      // Not there (no -wal yet), or not ours to change: the doctor says so.
    }
  }
}

/** SQLite creates the database file but not its directory; a missing one would fail opaquely.
 * A directory made here is owner-only, like the files in it. */
function ensureSqliteDir(url: string): void {
  if (providerOf(url) !== "sqlite") return;
  const file = sqliteFileOf(url);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  restrictSqliteFiles(file);
}

export interface OpenDatabase {
  db: Db;
  provider: Provider;
  /** Plain SQL on the same database, for hot paths (see sql.ts). */
  sql: SqlDatabase;
  /** SQLite: checkpoints the WAL on a worker thread once writes come in earnest (wal-checkpointer.ts). */
  walCheckpointer?: LazyWalCheckpointer;
  close(): Promise<void>;
}

export async function openDatabase(url: string, options: { poolSize?: number } = {}): Promise<OpenDatabase> {
  const provider = providerOf(url);
  if (provider === "sqlite") {
    ensureSqliteDir(url);
    // Serialised: plain queries wait for an open transaction instead of running inside it.
    const adapter = new SerialSqliteFactory(new PrismaBetterSQLite3({ url }, { timestampFormat: "iso8601" }));
    const db = new SqliteClient({ adapter: countingFactory(adapter) });
    registerSerialClient(db, adapter);
    // WAL lets readers (the CLI, a backup) work beside the server; busy_timeout waits instead of failing.
    await db.$queryRawUnsafe("PRAGMA journal_mode = WAL");
    await db.$queryRawUnsafe("PRAGMA busy_timeout = 5000");
    await db.$queryRawUnsafe("PRAGMA foreign_keys = ON");
    // In WAL mode NORMAL syncs at checkpoints, not at every commit (which costs about half a
    // millisecond of blocked event loop each here): a crash of the process loses nothing, a
    // power cut may lose the last changes but never corrupts the file. POSTERN_SQLITE_SYNC=full
    // turns the per-commit sync back on (server.ts).
    await db.$queryRawUnsafe("PRAGMA synchronous = NORMAL");
    restrictSqliteFiles(sqliteFileOf(url));
    const walCheckpointer = new LazyWalCheckpointer(sqliteFileOf(url));
    return {
      db,
      provider,
      sql: sqliteSql(adapter, () => walCheckpointer.committed()),
      walCheckpointer,
      close: async () => {
        await walCheckpointer.stop();
        await db.$disconnect();
      },
    };
  }
  silencePgParallelQueryWarning();
  // Loaded only for PostgreSQL: pg and the second generated client cost an embedded SQLite
  // start-up about a tenth of a second.
  const [{ PrismaPg }, { PrismaClient: PostgresClient }] = await Promise.all([
    import("@prisma/adapter-pg"),
    import("../generated/postgres/client"),
  ]);
  const adapter = new PrismaPg({ connectionString: url, max: options.poolSize ?? 10, ...KEEP_CONNECTIONS });
  const db = new PostgresClient({ adapter: countingFactory(adapter) }) as unknown as Db;
  const sql = await postgresSql(url, Math.max(2, Math.ceil((options.poolSize ?? 10) / 2)));
  return {
    db,
    provider,
    sql,
    close: async () => {
      await sql.close();
      await db.$disconnect();
    },
  };
}

/** Applies pending migrations with `prisma migrate deploy` (which serialises concurrent
 * instances with an advisory lock on PostgreSQL); resolves with its output. */
export function migrateDatabase(url: string): Promise<string> {
  ensureSqliteDir(url);
  return runMigrateDeploy(url, providerOf(url));
}

function runMigrateDeploy(url: string, provider: Provider): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [prismaBin(), "migrate", "deploy", "--config", configPath(provider)],
      {
        env: {
          ...process.env,
          DATABASE_URL: url,
          PRISMA_HIDE_UPDATE_MESSAGE: "1",
          CHECKPOINT_DISABLE: "1",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    let done = false;
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
      // On PostgreSQL Prisma's Wasm engine keeps its advisory-lock connection checked out for
      // ten seconds after the work is committed. Once it reports success there is nothing left
      // to wait for: end it (the server releases the lock with the connection).
      if (!done && /All migrations have been successfully applied|No pending migrations to apply/.test(output)) {
        done = true;
        child.kill("SIGTERM");
      }
    });
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0 || done) resolve(output);
      else reject(new Error(`migration failed (${provider}, ${redactUrl(url)}):\n${output.trim()}`));
    });
  });
}

let pgWarningSilenced = false;
/**
 * Prisma's pg adapter loads a query's relations in parallel on a transaction's one connection;
 * pg 8 queues them correctly but prints a deprecation warning (the queueing goes away in pg 9,
 * which Prisma will have to handle before we can move to it). The warning says nothing an
 * operator can act on and breaks the CLI's one-line stderr contract, so this one is dropped;
 * every other warning passes through.
 */
function silencePgParallelQueryWarning(): void {
  if (pgWarningSilenced) return;
  pgWarningSilenced = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
    const text = typeof warning === "string" ? warning : warning instanceof Error ? warning.message : "";
    if (text.startsWith("Calling client.query() when the client is already executing a query")) return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}
