// The offline check of an audit CSV on rows made here: cells a spreadsheet would run as a formula
// (written with a ' before them) are read back as they were hashed, and a weekly file begun before
// the chain's columns were added is checked from its first row that has them.
import type { AuditEvent } from "@postern/db";
import { stringify } from "csv-stringify/sync";
import { describe, expect, it } from "vitest";
import { auditCsvCells, auditCsvHeader, auditCsvRows } from "./audit.csv";
import { verifyAuditCsv } from "./audit.csv-verify";
import { hashAuditEvent } from "./audit.service";

function chain(n: number): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prevHash = "0".repeat(64);
  for (let seq = 1; seq <= n; seq += 1) {
    const fields = {
      seq,
      at: new Date(Date.UTC(2026, 10, 18, 10, 0, seq)),
      actorId: seq === 2 ? null : "u1",
      actorUsername: seq === 2 ? null : "-mallory",
      action: "group.created",
      target: seq === 3 ? "=HYPERLINK(\"http://x\")" : seq === 4 ? "\uFF1Dfull-width" : `group:g${seq}`,
      serviceId: null,
      sessionId: null,
      sourceIp: "::1",
      details: JSON.stringify({ name: `@g${seq}` }),
      prevHash,
    };
    const hash = hashAuditEvent(fields);
    events.push({ ...fields, id: `e${seq}`, hash } as AuditEvent);
    prevHash = hash;
  }
  return events;
}

describe("verifyAuditCsv", () => {
  it("reads neutralised cells back as they were hashed", () => {
    const events = chain(4);
    const text = auditCsvHeader() + auditCsvRows(events);
    expect(text).toContain("'-mallory");
    expect(text).toContain("'=HYPERLINK");
    expect(text).toContain("'\uFF1Dfull-width");
    const report = verifyAuditCsv(text);
    expect(report.firstBreak).toBeUndefined();
    expect(report).toMatchObject({ checked: 4, older: 0, first: { seq: 1, prevHash: "0".repeat(64) }, head: { seq: 4, hash: events[3]!.hash } });
  });

  it("checks a weekly file from the first row that has the chain's columns, and joined files across their headers", () => {
    const events = chain(5);
    const old = stringify(events.slice(0, 2).map((e) => auditCsvCells(e).slice(0, 10)), { record_delimiter: "windows" });
    const text = auditCsvHeader() + old + auditCsvRows(events.slice(2, 4)) + auditCsvHeader() + auditCsvRows(events.slice(4));
    const report = verifyAuditCsv(text);
    expect(report.firstBreak).toBeUndefined();
    expect(report).toMatchObject({ checked: 3, older: 2, first: { seq: 3 }, head: { seq: 5 } });
  });

  it("names a row that is not one Postern wrote", () => {
    const [first] = chain(1);
    const cells = auditCsvCells(first!);
    const late = verifyAuditCsv(auditCsvHeader() + auditCsvRows(chain(2)) + stringify([cells.slice(0, 10)], { record_delimiter: "windows" }));
    expect(late.firstBreak).toMatchObject({ line: 4, reason: expect.stringContaining("has 10 cells") });
    const time = verifyAuditCsv(auditCsvHeader() + stringify([[cells[0]!.replace("Z", "+00:00"), ...cells.slice(1)]], { record_delimiter: "windows" }));
    expect(time.firstBreak).toMatchObject({ seq: 1, reason: expect.stringContaining("is not as Postern writes it") });
  });
});
