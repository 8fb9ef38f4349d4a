// POSTERN_AUDIT_EXPORT_DIR: committed events appear in one CSV file per ISO week, each exactly
// once, across restarts, events written while the API was down, and a crash mid-append.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AUDIT_CSV_COLUMNS, ZAuditVerifyResult } from "@postern/contracts";
import { openDatabase } from "@postern/db";
import { inTransaction } from "../../lib/db-context";
import { buildTestApp, createUser, testClock, type TestApp, type TestClock, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import { checkFileModes } from "../../cli/doctor-checks";
import { STATE_FILE } from "./audit-files";
import { auditCsvCells, auditCsvHeader, auditCsvRows } from "./audit.csv";
import { NO_LISTENERS } from "../../lib/run-change";
import { hashAuditEvent, writeAudit } from "./audit.service";

const W47 = "audit-2026-W47.csv";
const W48 = "audit-2026-W48.csv";

describe.each(providers)("weekly audit files on %s", (provider) => {
  let dir: string;
  let t: TestApp;
  let clock: TestClock;
  let admin: TestUser;
  const others: TestApp[] = [];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-audit-files-"));
    clock = testClock(Date.parse("2026-11-20T12:00:00Z"));
    t = await buildTestApp(provider, { now: clock.now, env: { POSTERN_AUDIT_EXPORT_DIR: dir } });
    admin = await createUser(t.app, { role: "admin" });
  });
  afterEach(async () => {
    for (const o of others.splice(0)) await o.close();
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const readRows = (file: string) => parse(fs.readFileSync(path.join(dir, file), "utf8")) as string[][];

  /** Every event of the database, as the files should hold them. */
  async function expectFilesMatchDatabase() {
    const events = await t.app.ctx.db.auditEvent.findMany({ orderBy: { seq: "asc" } });
    const w47 = events.filter((e) => e.at < new Date("2026-11-23T00:00:00Z"));
    const w48 = events.filter((e) => e.at >= new Date("2026-11-23T00:00:00Z"));
    expect(readRows(W47)).toEqual([[...AUDIT_CSV_COLUMNS], ...w47.map(auditCsvCells)]);
    if (w48.length > 0) expect(readRows(W48)).toEqual([[...AUDIT_CSV_COLUMNS], ...w48.map(auditCsvCells)]);
  }

  async function createGroup(name: string) {
    const res = await t.app.inject({ method: "POST", url: "/api/groups", headers: admin.headers, payload: { name } });
    expect(res.statusCode).toBe(201);
  }

  it("appends events to the file of their ISO week as they happen", async () => {
    await createGroup("ops");
    // Poked after the response: no flush needed, the row shows up on its own.
    await expect.poll(() => fs.existsSync(path.join(dir, W47)) && readRows(W47).some((r) => r[2] === "group.created"), { timeout: 5000 }).toBe(true);

    clock.set(new Date("2026-11-23T08:00:00Z"));
    await createGroup("support");
    await t.app.auditFiles!.flush();
    await expectFilesMatchDatabase();
    expect(readRows(W48).slice(1).map((r) => r[2])).toEqual(["group.created"]);
    const raw = fs.readFileSync(path.join(dir, W48), "utf8");
    expect(raw.split("\r\n")[0]).toBe(AUDIT_CSV_COLUMNS.join(","));
    const state = JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), "utf8")) as { lastSeq: number; pending?: unknown };
    expect(state.lastSeq).toBe(await t.app.ctx.db.auditEvent.count());
    expect(state.pending).toBeUndefined();
  });

  it("brings a week's file begun by an older Postern to the current header, keeping its rows", async () => {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { mode: 0o700 });
    // As an older Postern left it: ten columns, one row.
    const older = `${AUDIT_CSV_COLUMNS.slice(0, 10).join(",")}\r\n2026-11-17T09:00:00.000Z,alice,user.login,,,,127.0.0.1,,1,${"a".repeat(64)}\r\n`;
    fs.writeFileSync(path.join(dir, W47), older, { mode: 0o600 });
    t = await buildTestApp(provider, { now: clock.now, env: { POSTERN_AUDIT_EXPORT_DIR: dir } });
    admin = await createUser(t.app, { role: "admin" });
    await createGroup("ops");
    await t.app.auditFiles!.flush();
    // The older row keeps its ten cells: a reader takes the missing ones as empty.
    const rows = parse(fs.readFileSync(path.join(dir, W47), "utf8"), { relax_column_count: true }) as string[][];
    expect(rows[0]).toEqual([...AUDIT_CSV_COLUMNS]);
    expect(rows[1]).toEqual(older.split("\r\n")[1]!.split(","));
    const events = await t.app.ctx.db.auditEvent.findMany({ orderBy: { seq: "asc" } });
    expect(rows.slice(2)).toEqual(events.map(auditCsvCells));
    expect(fs.statSync(path.join(dir, W47)).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("keeps the files owner-only, in a directory it makes owner-only, and doctor checks it", async () => {
    const sub = path.join(dir, "audit");
    const other = await buildTestApp(provider, { now: clock.now, env: { POSTERN_AUDIT_EXPORT_DIR: sub } });
    others.push(other);
    const res = await other.app.inject({ method: "POST", url: "/api/groups", headers: (await createUser(other.app, { role: "admin" })).headers, payload: { name: "ops" } });
    expect(res.statusCode).toBe(201);
    await other.app.auditFiles!.flush();
    const modeOf = (file: string) => fs.statSync(file).mode & 0o777;
    expect(modeOf(sub)).toBe(0o700);
    for (const file of fs.readdirSync(sub)) expect([file, modeOf(path.join(sub, file))]).toEqual([file, 0o600]);
    expect(fs.readdirSync(sub)).toContain(W47);

    fs.chmodSync(sub, 0o755);
    const [check] = checkFileModes({ ...other.config, auditExportDir: sub });
    expect(check?.detail).toContain(`${sub} is 0755 (chmod 700)`);
  });

  it("anchors verify: events cut off the end, or a chain made again, no longer match the files", async () => {
    for (const name of ["ops", "support", "customers"]) await createGroup(name);
    await t.app.auditFiles!.flush();
    const verify = async () => ZAuditVerifyResult.parse((await t.app.inject({ method: "GET", url: "/api/audit/verify", headers: admin.headers })).json());
    const count = await t.app.ctx.db.auditEvent.count();
    const newest = await t.app.ctx.db.auditEvent.findFirstOrThrow({ orderBy: { seq: "desc" } });
    expect(await verify()).toMatchObject({ intact: true, checked: count, head: { seq: count, hash: newest.hash }, anchoredAt: { seq: count, source: "audit files" } });

    // The newest event rewritten and its hash made again: the chain alone still verifies.
    const forged = { ...newest, actorUsername: "someone-else" };
    await t.app.ctx.db.$executeRawUnsafe(
      `UPDATE "AuditEvent" SET "actorUsername" = 'someone-else', "hash" = '${hashAuditEvent(forged)}' WHERE "seq" = ${newest.seq}`,
    );
    expect(await verify()).toMatchObject({ intact: false, firstBreak: { seq: newest.seq, id: newest.id, reason: expect.stringContaining("rewritten") } });

    // The newest events deleted.
    await t.app.ctx.db.$executeRawUnsafe(`DELETE FROM "AuditEvent" WHERE "seq" > ${count - 2}`);
    const cut = await verify();
    expect(cut).toMatchObject({ intact: false, checked: count - 2, firstBreak: { seq: count - 1, reason: expect.stringContaining("the newest events were deleted") } });
    expect(cut.firstBreak?.id).toBeUndefined();
  });

  it("writes nothing twice and loses nothing across a restart and writes made while it was down", async () => {
    await createGroup("before");
    await t.app.auditFiles!.flush();
    await t.app.close();

    // Another writer (the CLI, another instance) adds events while this API is down.
    const other = await openDatabase(t.url);
    const ctx = { db: other.db, provider: t.provider, sql: other.sql, now: clock.now, changes: NO_LISTENERS };
    for (const name of ["while-down-1", "while-down-2"]) {
      await inTransaction(ctx, (tx) => writeAudit(ctx, tx, { action: "group.created", details: { name } }));
    }
    await other.close();

    await t.restart();
    await createGroup("after");
    await t.app.auditFiles!.flush();
    await expectFilesMatchDatabase();
    const names = readRows(W47).map((r) => r[7]).filter((d) => d?.includes('"name"'));
    expect(names.map((d) => JSON.parse(d!).name)).toEqual(["before", "while-down-1", "while-down-2", "after"]);
  });

  it("rolls back a batch a crash left half-appended and writes it again once", async () => {
    for (const name of ["a", "b", "c", "d"]) await createGroup(name);
    await t.app.auditFiles!.flush();
    await t.app.close();
    const before = fs.readFileSync(path.join(dir, W47), "utf8");

    // The crash: rows after event k were appended (the last one only half), and the process died
    // before the state file moved past k.
    const events = await (async () => {
      const db = await openDatabase(t.url);
      try {
        return await db.db.auditEvent.findMany({ orderBy: { seq: "asc" } });
      } finally {
        await db.close();
      }
    })();
    const k = events.length - 3;
    const upToK = events.slice(0, k);
    const sizeAtK = Buffer.byteLength(auditCsvHeader() + auditCsvRows(upToK));
    fs.appendFileSync(path.join(dir, W47), "2026-11-20T12:00:00.000Z,half a row");
    fs.writeFileSync(
      path.join(dir, STATE_FILE),
      JSON.stringify({ lastSeq: upToK[k - 1]!.seq, lastHash: upToK[k - 1]!.hash, pending: [{ file: W47, size: sizeAtK }] }),
    );

    await t.restart();
    await t.app.auditFiles!.flush();
    expect(fs.readFileSync(path.join(dir, W47), "utf8")).toBe(before);
    await expectFilesMatchDatabase();
  });

  it("refuses to write into a directory that belongs to another database", async () => {
    await createGroup("first-db");
    await t.app.auditFiles!.flush();
    const before = fs.readFileSync(path.join(dir, W47), "utf8");

    // A second installation (another, fresh database) pointed at the same directory.
    await t.app.close();
    const stranger = await buildTestApp(provider, { now: clock.now, env: { POSTERN_AUDIT_EXPORT_DIR: dir } });
    others.push(stranger);
    await createUser(stranger.app, { role: "admin" });
    await stranger.app.auditFiles!.flush();
    expect(fs.readFileSync(path.join(dir, W47), "utf8")).toBe(before);
    await t.restart();
  });
});
