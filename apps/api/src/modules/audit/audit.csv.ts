// Audit events as RFC 4180 CSV (UTF-8, CRLF line ends, a header row): the download, the CLI
// export and the weekly files all use these functions, so the three never disagree.
// Cells that a spreadsheet would run as a formula (starting with = + - @ tab CR) are prefixed
// with ' by csv-stringify's escape_formulas, since actors, targets and details carry user input.
import { Readable } from "node:stream";
import { stringify, type Options } from "csv-stringify/sync";
import { AUDIT_CSV_COLUMNS } from "@postern/contracts";
import type { AuditEvent } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import { auditEventsBetween } from "./audit.service";

const csvOptions: Options = {
  record_delimiter: "windows",
  // With a custom record delimiter csv-stringify stops quoting lone \n and \r by default; RFC
  // 4180 readers need every line break inside a cell quoted.
  quote_record_delimiter: true,
  escape_formulas: true,
  eof: true,
};

/** One CSV row per event, in the order of AUDIT_CSV_COLUMNS. */
export function auditCsvCells(e: AuditEvent): string[] {
  return [
    e.at.toISOString(),
    e.actorUsername ?? "",
    e.action,
    e.target ?? "",
    e.serviceId ?? "",
    e.sessionId ?? "",
    e.sourceIp ?? "",
    e.details ?? "",
    String(e.seq),
    e.hash,
    e.actorId ?? "",
    e.prevHash,
  ];
}

export function auditCsvHeader(): string {
  return stringify([[...AUDIT_CSV_COLUMNS]], csvOptions);
}

export function auditCsvRows(events: AuditEvent[]): string {
  return events.length === 0 ? "" : stringify(events.map(auditCsvCells), csvOptions);
}

/**
 * The CSV of every event in `[from, to)`, header first, produced batch by batch. The first chunk
 * is the header with the first batch: whoever awaits it has seen the first query succeed before
 * sending a byte (see `startCsv`).
 */
export async function* auditCsv(ctx: DbContext, range: { from: Date; to: Date }): AsyncGenerator<string> {
  let header = auditCsvHeader();
  for await (const batch of auditEventsBetween(ctx, range)) {
    yield header + auditCsvRows(batch);
    header = "";
  }
  if (header) yield header;
}

/**
 * A download that fails before its first byte or not at all (short of the database going away
 * mid-way): the first chunk is produced here, so a refused query becomes an ordinary error
 * answer instead of a response cut off after its headers.
 */
export async function startCsv(chunks: AsyncGenerator<string>): Promise<Readable> {
  const first = await chunks.next();
  async function* all(): AsyncGenerator<string> {
    if (first.done) return;
    yield first.value;
    yield* chunks;
  }
  return Readable.from(all());
}
