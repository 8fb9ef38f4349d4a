// Verifies an audit CSV (a download, an export or a weekly file) without the database: each row's
// hash is computed again from its cells, and each row must name the one before it as its previous
// hash, with no seq missing in between. What it cannot tell: rows cut off either end of the file
// (compare its first and last event with those of the files or exports around it, or with a head
// noted from `postern audit verify`), or a file and a chain made again together from some event
// on by someone who can write both.
import { parse } from "csv-parse/sync";
import { AUDIT_CSV_COLUMNS } from "@postern/contracts";
import { hashAuditEvent, type ChainAnchor } from "./audit.service";

export interface CsvChainReport {
  /** Rows whose chain was checked. */
  checked: number;
  /** Rows written before the CSV carried its chain columns (an upgrade within a weekly file). */
  older: number;
  /** The first row checked, and the hash it says came before it. */
  first: { seq: number; prevHash: string } | null;
  /** The last row checked. */
  head: { seq: number; hash: string } | null;
  /** The anchors found in the file and matching it. */
  matched: ChainAnchor[];
  firstBreak?: { seq: number | null; line: number; reason: string };
}

const col = (name: (typeof AUDIT_CSV_COLUMNS)[number]) => AUDIT_CSV_COLUMNS.indexOf(name);
const OLD_WIDTH = col("actor id");
/** csv-stringify's escape_formulas puts a ' before a cell a spreadsheet would run as a formula
 * (its full-width signs too). No stored value begins with ' and one of these. */
const ESCAPED = /^'[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
const cell = (row: string[], name: (typeof AUDIT_CSV_COLUMNS)[number]) => {
  const text = row[col(name)] ?? "";
  return ESCAPED.test(text) ? text.slice(1) : text;
};
const orNull = (text: string) => (text === "" ? null : text);

export function verifyAuditCsv(text: string, anchors: ChainAnchor[] = []): CsvChainReport {
  const report: CsvChainReport = { checked: 0, older: 0, first: null, head: null, matched: [] };
  let rows: { record: string[]; line: number }[];
  try {
    rows = (parse(text, { relax_column_count: true, skip_empty_lines: true, info: true }) as unknown as { record: string[]; info: { lines: number } }[]).map(
      (r) => ({ record: r.record, line: r.info.lines }),
    );
  } catch (err) {
    return { ...report, firstBreak: { seq: null, line: 0, reason: `not CSV as Postern writes it: ${(err as Error).message}` } };
  }
  const broken = (line: number, seq: number | null, reason: string) => ({ ...report, firstBreak: { seq, line, reason } });
  for (const { record, line } of rows) {
    // A header: at the top of every file, and wherever files were joined.
    if (record[0] === AUDIT_CSV_COLUMNS[0] && record[1] === AUDIT_CSV_COLUMNS[1]) continue;
    if (record.length === OLD_WIDTH && !report.head) {
      report.older += 1;
      continue;
    }
    if (record.length !== AUDIT_CSV_COLUMNS.length) {
      return broken(line, null, `has ${record.length} cells, not the ${AUDIT_CSV_COLUMNS.length} of ${AUDIT_CSV_COLUMNS.join(", ")}`);
    }
    const seq = Number(cell(record, "seq"));
    const time = cell(record, "time");
    const at = new Date(time);
    if (!Number.isSafeInteger(seq) || seq < 1) return broken(line, null, `its seq "${cell(record, "seq")}" is not an event number`);
    if (Number.isNaN(at.getTime()) || at.toISOString() !== time) return broken(line, seq, `its time "${time}" is not as Postern writes it`);
    const hash = cell(record, "hash");
    const prevHash = cell(record, "prev hash");
    const computed = hashAuditEvent({
      seq,
      at,
      actorId: orNull(cell(record, "actor id")),
      actorUsername: orNull(cell(record, "actor")),
      action: cell(record, "action"),
      target: orNull(cell(record, "target")),
      serviceId: orNull(cell(record, "service")),
      sessionId: orNull(cell(record, "session")),
      sourceIp: orNull(cell(record, "source IP")),
      details: orNull(cell(record, "details")),
      prevHash,
    });
    if (computed !== hash) return broken(line, seq, "its cells do not give its hash: the row was changed");
    if (report.head) {
      if (seq !== report.head.seq + 1) return broken(line, seq, `event #${report.head.seq + 1} is missing (the row before is #${report.head.seq})`);
      if (prevHash !== report.head.hash) return broken(line, seq, `it does not follow event #${report.head.seq}: its previous hash is not that event's`);
    } else {
      report.first = { seq, prevHash };
    }
    for (const anchor of anchors) {
      if (anchor.seq !== seq) continue;
      if (anchor.hash !== hash) return broken(line, seq, `its hash differs from the one ${anchor.source} recorded for it`);
      report.matched.push(anchor);
    }
    report.head = { seq, hash };
    report.checked += 1;
  }
  return report;
}
