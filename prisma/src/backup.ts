// Copies of the embedded SQLite database with SQLite's online backup API: a consistent copy
// taken while the server keeps writing (WAL lets it read beside the writer), and a restore that
// writes such a copy back through SQLite rather than over the file. PostgreSQL has pg_dump.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { Provider } from "../scripts/providers";
import { shippedMigrations } from "./migration-status";

export class BackupError extends Error {}

/** Copy every page in one step: one read snapshot, so the copy is consistent (and a writer
 * committing between small steps cannot make SQLite restart the copy over and over). */
const ALL_PAGES = 0x7fffffff;

export function pgDumpAdvice(action: "backup" | "restore"): string {
  return action === "backup"
    ? "postern backup copies the embedded SQLite database; for PostgreSQL use its own tools: pg_dump --format=custom --dbname=\"$DATABASE_URL\" --file=postern.dump (safe while Postern runs)"
    : "postern restore writes an embedded SQLite database; for PostgreSQL restore a pg_dump with pg_restore --clean --if-exists --no-owner --dbname=\"$DATABASE_URL\" postern.dump (Postern stopped)";
}

/** quick_check reports over several lines; the CLI's reasons are one. */
const oneLine = (check: unknown) => String(check).replace(/\s*\n\s*/g, " ");

function refuseProvider(provider: Provider, action: "backup" | "restore"): void {
  if (provider !== "sqlite") throw new BackupError(pgDumpAdvice(action));
}

/** What a SQLite file holds, when it is a Postern database: its applied migrations. */
export function inspectSqliteBackup(file: string): { migrations: string[] } {
  if (!fs.existsSync(file)) throw new BackupError(`${file}: no such file`);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new BackupError(`${file}: cannot open it as SQLite (${(err as Error).message})`);
  }
  try {
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok") throw new BackupError(`${file}: the copy is damaged (quick_check: ${oneLine(check)})`);
    const table = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'`).get();
    if (!table) throw new BackupError(`${file}: not a Postern database (it has no migration history)`);
    const rows = db
      .prepare(`SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name`)
      .all() as { migration_name: string }[];
    return { migrations: rows.map((r) => r.migration_name) };
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError(`${file}: not a readable SQLite database (${(err as Error).message})`);
  } finally {
    db.close();
  }
}

function checkCopy(file: string): void {
  const copy = new Database(file);
  try {
    // The source runs in WAL mode and its header says so; the copy needs no -wal file beside it.
    copy.pragma("journal_mode = DELETE");
    const check = copy.pragma("quick_check", { simple: true });
    if (check !== "ok") throw new BackupError(`the copy failed its check (quick_check: ${oneLine(check)}); is the database itself damaged?`);
  } finally {
    copy.close();
  }
}

/**
 * Writes a consistent copy of the SQLite database at `databaseFile` to `target` (which must not
 * exist), safe while Postern serves. The copy is a single self-contained file.
 */
export async function backupSqlite(provider: Provider, databaseFile: string, target: string): Promise<{ bytes: number }> {
  refuseProvider(provider, "backup");
  if (!fs.existsSync(databaseFile)) throw new BackupError(`no database at ${databaseFile}`);
  if (fs.existsSync(target)) throw new BackupError(`${target} exists; choose another name or remove it first`);
  const dir = path.dirname(path.resolve(target));
  if (!fs.existsSync(dir)) throw new BackupError(`${dir}: no such directory`);
  // Written beside the target and renamed: a failed backup leaves no half file behind.
  const partial = `${target}.${process.pid}.partial`;
  const source = new Database(databaseFile, { readonly: true, fileMustExist: true });
  try {
    source.pragma("busy_timeout = 15000");
    await source.backup(partial, { progress: () => ALL_PAGES });
  } catch (err) {
    fs.rmSync(partial, { force: true });
    throw new BackupError(`backup failed: ${(err as Error).message}`);
  } finally {
    source.close();
  }
  try {
    checkCopy(partial);
  } catch (err) {
    // A damaged copy is no backup: nothing is left behind under any name.
    fs.rmSync(partial, { force: true });
    throw err;
  }
  // A backup holds what the database holds (password hashes, ID tokens): owner-only.
  fs.chmodSync(partial, 0o600);
  fs.renameSync(partial, target);
  return { bytes: fs.statSync(target).size };
}

/**
 * Replaces the database at `databaseFile` with the copy in `backupFile`, through SQLite's
 * backup API (so a leftover -wal file of the old database cannot be replayed over it).
 * Postern must not be running on that database.
 */
export async function restoreSqlite(provider: Provider, backupFile: string, databaseFile: string): Promise<void> {
  refuseProvider(provider, "restore");
  const shipped = new Set(shippedMigrations(provider));
  const newer = inspectSqliteBackup(backupFile).migrations.filter((m) => !shipped.has(m));
  if (newer.length > 0) {
    throw new BackupError(
      `${backupFile} comes from a database with migrations this build lacks (${newer.join(", ")}): restore it with the Postern version that made it, or a newer one`,
    );
  }
  fs.mkdirSync(path.dirname(databaseFile), { recursive: true, mode: 0o700 });
  const source = new Database(backupFile, { readonly: true, fileMustExist: true });
  try {
    await source.backup(databaseFile, { progress: () => ALL_PAGES });
    fs.chmodSync(databaseFile, 0o600);
  } catch (err) {
    throw new BackupError(`restore failed: ${(err as Error).message}`);
  } finally {
    source.close();
  }
}
