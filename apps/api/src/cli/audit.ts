// `postern audit export` (CSV of one ISO week or a date range) and `postern audit verify` (walks
// the hash chain and names the first event that does not match).
import fs from "node:fs";
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { Command } from "commander";
import { ZAuditExportQuery } from "@postern/contracts";
import { openDatabase, redactUrl, type OpenDatabase } from "@postern/db";
import type { DbContext } from "../lib/db-context";
import { NO_LISTENERS } from "../lib/run-change";
import { auditCsv } from "../modules/audit/audit.csv";
import { auditFilesAnchor } from "../modules/audit/audit-files";
import { verifyAuditCsv } from "../modules/audit/audit.csv-verify";
import { auditRangeOf, parseChainAnchor, verifyAuditChain, type ChainAnchor } from "../modules/audit/audit.service";
import { CliError, parseWith, readConfig } from "./context";

/**
 * Opens the database for reading only: unlike the other commands these never apply migrations,
 * so they work beside a running server on SQLite and leave a copy kept as evidence untouched.
 */
async function withAuditDatabase<T>(fn: (ctx: DbContext) => Promise<T>): Promise<T> {
  const config = readConfig();
  let database: OpenDatabase | undefined;
  try {
    database = await openDatabase(config.databaseUrl);
    const ctx: DbContext = { db: database.db, provider: database.provider, sql: database.sql, now: () => new Date(), changes: NO_LISTENERS };
    try {
      await ctx.db.auditEvent.findFirst({ select: { seq: true } });
    } catch {
      throw new CliError(`${redactUrl(config.databaseUrl)} has no audit trail to read: is it Postern's database, migrated (postern migrate)?`);
    }
    return await fn(ctx);
  } finally {
    await database?.close();
  }
}

async function writeAll(out: Writable, chunks: AsyncIterable<string>): Promise<void> {
  for await (const chunk of chunks) {
    if (!out.write(chunk)) await once(out, "drain");
  }
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command("audit").description("export and verify the audit trail");

  audit
    .command("export")
    .description("write the audit events of one ISO week or a date range as CSV (stdout by default)")
    .option("--week <YYYY-Www>", "an ISO week, e.g. 2026-W47 (UTC)")
    .option("--from <iso>", "start of the range: a date (UTC) or a date-time with offset")
    .option("--to <iso>", "end of the range (exclusive; a date alone includes that day)")
    .option("--out <file>", "write to this file instead of stdout")
    .action(async (opts: { week?: string; from?: string; to?: string; out?: string }) => {
      const query = parseWith(ZAuditExportQuery, { week: opts.week, from: opts.from, to: opts.to }, (f) => `--${f}`);
      const range = auditRangeOf(query);
      await withAuditDatabase(async (ctx) => {
        if (!opts.out) {
          await writeAll(process.stdout, auditCsv(ctx, range));
          return;
        }
        // Written next to the target and renamed, so a failed export leaves no half file behind.
        const tmp = `${opts.out}.${process.pid}.tmp`;
        let out: fs.WriteStream;
        try {
          // Every username, address and reason of the range: owner-only, as the weekly audit files are.
          out = fs.createWriteStream(tmp, { flags: "wx", mode: 0o600 });
          await once(out, "open");
        } catch (err) {
          throw new CliError(`--out: cannot write ${opts.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        try {
          await writeAll(out, auditCsv(ctx, range));
          out.end();
          await once(out, "finish");
          fs.renameSync(tmp, opts.out);
        } catch (err) {
          out.destroy();
          fs.rmSync(tmp, { force: true });
          throw err;
        }
        process.stderr.write(`wrote ${opts.out}\n`);
      });
    });

  audit
    .command("verify")
    .description("check the audit hash chain; exit 1 naming the first event that does not match")
    .option("--expect <seq:hash>", "an event noted from an earlier verify (its head): the chain must still hold it, unchanged")
    .option("--csv <file>", "verify an audit CSV (an export or a weekly file) instead of the database, without it")
    .action(async (opts: { expect?: string; csv?: string }) => {
      const noted = opts.expect === undefined ? null : parseChainAnchor(opts.expect, "--expect");
      if (opts.expect !== undefined && !noted) throw new CliError(`--expect: expected <seq>:<hash> as verify prints it (e.g. 1234:9f2c…, 64 hex digits), got "${opts.expect}"`);
      if (opts.csv !== undefined) return verifyCsvFile(opts.csv, noted);
      const dir = readConfig().auditExportDir;
      const fromFiles = dir ? await auditFilesAnchor(dir) : null;
      const anchors = [noted, fromFiles].filter((a): a is ChainAnchor => a !== null);
      await withAuditDatabase(async (ctx) => {
        const { checked, firstBreak, head } = await verifyAuditChain(ctx, anchors);
        if (firstBreak) {
          throw new CliError(
            `audit chain broken at event #${firstBreak.seq}${firstBreak.id ? ` (id ${firstBreak.id})` : ""}: ${firstBreak.reason}; ` +
              `the ${checked} events before it are intact`,
          );
        }
        const against = anchors.map((a) => `event #${a.seq} of ${a.source}`).join(" and ");
        // The head, noted somewhere else, lets a later verify (--expect) see events cut off the end
        // or a chain made again from some event on, which the chain alone cannot show.
        console.log(`${checked} events, chain intact${against ? `, matching ${against}` : ""}${head ? `; head ${head.seq}:${head.hash}` : ""}`);
      });
    });
}

/** `audit verify --csv`: the file alone, no configuration or database. */
function verifyCsvFile(file: string, noted: ChainAnchor | null): void {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(`--csv: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const report = verifyAuditCsv(text, noted ? [noted] : []);
  if (report.firstBreak) {
    const { line, seq, reason } = report.firstBreak;
    throw new CliError(`audit chain broken in ${file} at line ${line}${seq ? ` (event #${seq})` : ""}: ${reason}; the ${report.checked} events before it are intact`);
  }
  if (noted && report.matched.length === 0) {
    throw new CliError(`--expect: event #${noted.seq} is not in ${file} (${report.first ? `it holds #${report.first.seq} to #${report.head!.seq}` : "it holds no events"})`);
  }
  const older = report.older ? `; ${report.older} older rows without the chain's columns not checked` : "";
  if (!report.first || !report.head) {
    console.log(`0 events in ${file}${older}`);
    return;
  }
  // Where it joins the files or exports around it: the event before its first, and its last.
  console.log(
    `${report.checked} events (#${report.first.seq} to #${report.head.seq}), chain intact${noted ? `, matching event #${noted.seq} of --expect` : ""}; ` +
      `follows ${report.first.seq - 1}:${report.first.prevHash}; head ${report.head.seq}:${report.head.hash}${older}`,
  );
}
