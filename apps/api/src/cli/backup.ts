// `postern backup` / `postern restore` (the embedded SQLite database: online copies with SQLite's
// backup API; PostgreSQL has pg_dump) and `postern export` / `postern import` (the whole state as
// JSON lines, to move between SQLite and PostgreSQL).
import fs from "node:fs";
import { once } from "node:events";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import type { Command } from "commander";
import {
  BackupError,
  backupSqlite,
  countRows,
  exportLines,
  importLines,
  inspectSqliteBackup,
  openDatabase,
  providerOf,
  redactUrl,
  restoreSqlite,
  sqliteFileOf,
  TransferError,
  type Db,
  type Tx,
  type ExportHeader,
  type OpenDatabase,
} from "@postern/db";
import type { DbContext } from "../lib/db-context";
import { auditBatchesWithin, committedAuditBatches, verifyAuditBatches } from "../modules/audit/audit.service";
import { CliError, readConfig, withDatabase } from "./context";

/** "3 User, 2 Service, 41 AuditEvent": the models that hold rows. */
function describeCounts(counts: Record<string, number>): string {
  const held = Object.entries(counts).filter(([, n]) => n > 0);
  return held.length === 0 ? "no rows" : held.map(([model, n]) => `${n} ${model}`).join(", ");
}

/** Library errors become the CLI's one-line reasons. */
async function asCliErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof BackupError || err instanceof TransferError) throw new CliError(err.message);
    throw err;
  }
}

/** Checks the audit chain of a database that was just written (or, `batches`, is about to be
 * committed): the proof a copy is whole. */
async function verifiedChain(ctx: DbContext, batches = committedAuditBatches(ctx), refused = ""): Promise<string> {
  const result = await verifyAuditBatches(batches);
  if (result.firstBreak) {
    throw new CliError(`the audit chain does not verify at event #${result.firstBreak.seq}: ${result.firstBreak.reason}${refused}`);
  }
  return `audit chain intact (${result.checked} events)`;
}

async function withOpened<T>(url: string, fn: (database: OpenDatabase) => Promise<T>): Promise<T> {
  const database = await openDatabase(url, { poolSize: 2 });
  try {
    return await fn(database);
  } finally {
    await database.close();
  }
}

/** Writes `lines` to `file` through a temporary file, so a failure leaves nothing half written. */
async function writeFileFrom(file: string, lines: AsyncIterable<string>): Promise<void> {
  const partial = `${file}.${process.pid}.partial`;
  // An export holds every row, password and token hashes included: owner-only, as a backup is.
  const out = fs.createWriteStream(partial, { flags: "wx", mode: 0o600 });
  try {
    await once(out, "open");
    for await (const line of lines) if (!out.write(line)) await once(out, "drain");
    out.end();
    await once(out, "finish");
    fs.renameSync(partial, file);
  } catch (err) {
    out.destroy();
    fs.rmSync(partial, { force: true });
    throw err;
  }
}

function refuseExisting(file: string): void {
  if (fs.existsSync(file)) throw new CliError(`${file} exists; choose another name or remove it first`);
}

export function registerBackupCommands(program: Command): void {
  program
    .command("backup <file>")
    .description("write a consistent copy of the SQLite database to <file>, safe while Postern runs (PostgreSQL: use pg_dump)")
    .action(async (file: string) => {
      const config = readConfig();
      const provider = providerOf(config.databaseUrl);
      await asCliErrors(async () => {
        const { bytes } = await backupSqlite(provider, sqliteFileOf(config.databaseUrl), file);
        const counts = await withOpened(`file:${path.resolve(file)}`, (copy) => countRows(copy.db));
        console.log(`backup written to ${file} (${(bytes / 1024).toFixed(0)} KiB): ${describeCounts(counts)}`);
      });
    });

  program
    .command("restore <file>")
    .description("replace the SQLite database with a copy made by postern backup; stop Postern first")
    .option("--force", "replace a database that holds data")
    .action(async (file: string, opts: { force?: boolean }) => {
      const config = readConfig();
      const provider = providerOf(config.databaseUrl);
      const target = sqliteFileOf(config.databaseUrl);
      await asCliErrors(async () => {
        if (provider === "sqlite") inspectSqliteBackup(file);
        if (provider === "sqlite" && fs.existsSync(target)) {
          const counts = await withOpened(config.databaseUrl, (current) => countRows(current.db));
          if (Object.values(counts).some((n) => n > 0) && !opts.force) {
            throw new CliError(
              `${redactUrl(config.databaseUrl)} holds data (${describeCounts(counts)}); restoring replaces it: stop Postern, then run again with --force`,
            );
          }
        }
        // The copy is migrated and its audit chain verified on a copy of its own: a backup that
        // fails either must not have replaced the database first.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-restore-"));
        try {
          const staged = path.join(dir, "restore.db");
          await restoreSqlite(provider, file, staged);
          const summary = await withDatabase(
            async ({ ctx }) => `${describeCounts(await countRows(ctx.db))}; ${await verifiedChain(ctx)}`,
            `file:${staged}`,
          ).catch((err: unknown) => {
            throw err instanceof CliError ? new CliError(`${file}: ${err.message}; nothing was restored`) : err;
          });
          await restoreSqlite(provider, staged, target);
          console.log(`restored ${file} into ${redactUrl(config.databaseUrl)}: ${summary}`);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      });
    });

  program
    .command("export <file>")
    .description("write the whole state (every row of every table) to <file> as JSON lines, to import into another database")
    .action(async (file: string) => {
      const config = readConfig();
      refuseExisting(file);
      const provider = providerOf(config.databaseUrl);
      let header: ExportHeader | undefined;
      async function* noteHeader(lines: AsyncIterable<string>): AsyncGenerator<string> {
        for await (const line of lines) {
          header ??= JSON.parse(line) as ExportHeader;
          yield line;
        }
      }
      await asCliErrors(async () => {
        if (provider === "sqlite") {
          // A consistent view without holding the server's write lock: export a fresh snapshot.
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-export-"));
          try {
            const snapshot = path.join(dir, "snapshot.db");
            await backupSqlite(provider, sqliteFileOf(config.databaseUrl), snapshot);
            await withOpened(`file:${snapshot}`, (db) => writeFileFrom(file, noteHeader(exportLines(db.db, "sqlite"))));
          } finally {
            fs.rmSync(dir, { recursive: true, force: true });
          }
        } else {
          // One REPEATABLE READ transaction: every table as of the same instant.
          await withOpened(config.databaseUrl, (db) =>
            db.db.$transaction(
              async (tx) => {
                // First statement of the transaction; the client's types know only SQLite's levels.
                await tx.$executeRawUnsafe("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
                await writeFileFrom(file, noteHeader(exportLines(tx, "postgres")));
              },
              { maxWait: 60_000, timeout: 60 * 60_000 },
            ),
          );
        }
      });
      console.log(`exported ${redactUrl(config.databaseUrl)} to ${file}: ${describeCounts(header?.counts ?? {})}`);
    });

  program
    .command("import <file>")
    .description("load a file made by postern export into this database (migrated first); refuses a database that holds data without --force")
    .option("--force", "replace everything the database holds")
    .action(async (file: string, opts: { force?: boolean }) => {
      if (!fs.existsSync(file)) throw new CliError(`${file}: no such file`);
      await withDatabase(async ({ config, ctx }) => {
        const lines = readline.createInterface({ input: fs.createReadStream(file, "utf8"), crlfDelay: Infinity });
        // The chain is verified in the import's own transaction: a tampered export changes nothing.
        let chain = "";
        const beforeCommit = async (tx: Tx) => {
          chain = await verifiedChain(ctx, auditBatchesWithin(tx), "; nothing was imported");
        };
        const imported = await asCliErrors(() => importLines(ctx.db as Db, ctx.provider, lines, { force: opts.force, beforeCommit }));
        console.log(`imported ${file} into ${redactUrl(config.databaseUrl)}: ${describeCounts(imported)}; ${chain}`);
      });
    });
}
