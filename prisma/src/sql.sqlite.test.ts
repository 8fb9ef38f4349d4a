// Plain-SQL rows on SQLite are made by a function compiled per statement (sql.ts, `rowMaker`):
// the values must come back normalised as before, whatever the columns are called.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type OpenDatabase } from "./index";

describe("plain-SQL rows on SQLite", () => {
  let dir: string;
  let open: OpenDatabase;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-sql-rows-"));
    open = await openDatabase(`file:${path.join(dir, "t.db")}`);
    await open.db.$executeRawUnsafe('CREATE TABLE "t" ("id" TEXT PRIMARY KEY, "at" DATETIME, "on" BOOLEAN, "n" INTEGER, "note" TEXT)');
  });
  afterEach(async () => {
    await open.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("turns timestamps into dates and booleans into booleans, and keeps nulls", async () => {
    const at = new Date("2026-12-03T10:20:30.456Z");
    await open.sql.transaction(async (sql) => {
      sql.send('INSERT INTO "t" ("id", "at", "on", "n", "note") VALUES (?, ?, ?, ?, ?)', ["a", at, true, 7, "x"]);
      sql.send('INSERT INTO "t" ("id", "at", "on", "n", "note") VALUES (?, ?, ?, ?, ?)', ["b", null, false, null, null]);
    });
    const rows = await open.sql.read((sql) => sql.all('SELECT "id", "at", "on", "n", "note" FROM "t" ORDER BY "id"'));
    expect(rows).toEqual([
      { id: "a", at, on: true, n: 7, note: "x" },
      { id: "b", at: null, on: false, n: null, note: null },
    ]);
    expect(rows[0]!.at).toBeInstanceOf(Date);
    expect(Object.keys(rows[1]!)).toEqual(["id", "at", "on", "n", "note"]);
  });

  it("names each field as the statement does, quotes and backslashes included, statement by statement", async () => {
    await open.sql.transaction(async (sql) => sql.send('INSERT INTO "t" ("id", "n") VALUES (?, ?)', ["a", 1]));
    const odd = await open.sql.read((sql) => sql.get(`SELECT "id" AS "it's \\ ""quoted""", "n" + 1 AS "next", 'x' AS "constructor" FROM "t"`));
    expect(odd).toEqual({ 'it\'s \\ "quoted"': "a", next: 2, constructor: "x" });
    const plain = await open.sql.read((sql) => sql.get<{ id: string }>('SELECT "id" FROM "t"'));
    expect(plain).toEqual({ id: "a" });
    // The same statement again: its compiled maker is reused, and still right.
    expect(await open.sql.read((sql) => sql.get('SELECT "id" FROM "t"'))).toEqual({ id: "a" });
    expect(await open.sql.read((sql) => sql.all('SELECT "id" FROM "t" WHERE "id" = ?', ["none"]))).toEqual([]);
  });
});
