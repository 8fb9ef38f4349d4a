// Audit events as RFC 4180 CSV (UTF-8, CRLF line ends, a header row): the download, the CLI
// export and the weekly files all use these functions, so the three never disagree.
// Cells that a spreadsheet would run as a formula (starting with = + - @ tab CR) are prefixed
// with ' by csv-stringify's escape_formulas, since actors, targets and details carry user input.
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
  ];
}

export function auditCsvHeader(): string {
  return stringify([[...AUDIT_CSV_COLUMNS]], csvOptions);
}

export function auditCsvRows(events: AuditEvent[]): string {
  return events.length === 0 ? "" : stringify(events.map(auditCsvCells), csvOptions);
}

/** The CSV of every event in `[from, to)`, header first, produced batch by batch. */
export async function* auditCsv(ctx: DbContext, range: { from: Date; to: Date }): AsyncGenerator<string> {
  yield auditCsvHeader();
  for await (const batch of auditEventsBetween(ctx, range)) yield auditCsvRows(batch);
}
