// Group commit on a real SQLite file: transactions asked for in one turn share a COMMIT, yet each
// one's outcome is its own, and nobody hears "done" for work that could still be lost.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_GROUP, SqliteGroupCommit } from "./sqlite-group-commit";
import { Lock } from "./sqlite-serial";

let dir: string;
let db: Database.Database;
let group: SqliteGroupCommit<Database.Database>;
let commits: number;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-group-"));
  db = new Database(path.join(dir, "t.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("foreign_keys = ON");
  db.exec('CREATE TABLE "parent" ("id" INTEGER PRIMARY KEY)');
  db.exec('CREATE TABLE "t" ("v" TEXT NOT NULL UNIQUE, "parent" INTEGER REFERENCES "parent" ("id") DEFERRABLE INITIALLY DEFERRED)');
  commits = 0;
  const exec = db.exec.bind(db);
  vi.spyOn(db, "exec").mockImplementation((sql: string) => {
    if (sql === "COMMIT") commits++;
    return exec(sql);
  });
  // The same FIFO turn the server's connection has.
  const lock = new Lock();
  group = new SqliteGroupCommit({
    acquire: () => lock.acquire(),
    client: () => db,
    inScope: (fn) => fn(),
    runner: db,
  });
});

afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const insert = (v: string, parent: number | null = null) => async (c: Database.Database) => {
  c.prepare('INSERT INTO "t" ("v", "parent") VALUES (?, ?)').run(v, parent);
  return v;
};
/** An insert that counts how often it ran. */
function counted(v: string) {
  const counter = {
    runs: 0,
    fn: async (c: Database.Database) => {
      counter.runs++;
      return insert(v)(c);
    },
  };
  return counter;
}
const values = () => (db.prepare('SELECT "v" FROM "t" ORDER BY "v"').all() as { v: string }[]).map((r) => r.v);

describe("SQLite group commit", () => {
  it("commits the transactions asked for in one turn together, and answers each after the COMMIT", async () => {
    const heard: boolean[] = [];
    const all = ["a", "b", "c", "d", "e"].map((v) =>
      group.transaction(insert(v)).then((value) => {
        heard.push(db.inTransaction);
        return value;
      }),
    );
    expect(await Promise.all(all)).toEqual(["a", "b", "c", "d", "e"]);
    expect(commits).toBe(1);
    expect(heard).toEqual([false, false, false, false, false]);
    expect(values()).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("undoes a failed transaction alone; the others in its group commit", async () => {
    const first = counted("a");
    const results = await Promise.allSettled([
      group.transaction(first.fn),
      group.transaction(async (c) => {
        await insert("x")(c);
        throw new Error("refused after writing");
      }),
      group.transaction(insert("a")),
      group.transaction(insert("b")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/refused after writing/);
    expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
    // Its row could not be undone alone: the shared transaction ended, and the first ran again.
    expect(first.runs).toBe(2);
    expect(commits).toBe(1);
    expect(values()).toEqual(["a", "b"]);
    expect(db.inTransaction).toBe(false);
  });

  it("lets a transaction that fails before changing a row go without undoing the others", async () => {
    const exec = vi.mocked(db.exec);
    exec.mockClear();
    const first = counted("a");
    const results = await Promise.allSettled([
      group.transaction(first.fn),
      group.transaction(async (c) => {
        c.prepare('SELECT "v" FROM "t"').all();
        throw new Error("refused after reading");
      }),
      // A failed statement changes nothing: SQLite undoes it by itself.
      group.transaction(insert("a")),
      group.transaction(insert("b")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect(first.runs).toBe(1);
    expect(exec.mock.calls.map((call) => call[0])).toEqual(["BEGIN IMMEDIATE", "COMMIT"]);
    expect(values()).toEqual(["a", "b"]);
  });

  it("runs the group's others again when SQLite drops the shared transaction under one of them", async () => {
    const counter = counted("a");
    const first = group.transaction(counter.fn);
    // What SQLITE_FULL does: SQLite rolls the whole transaction back by itself, and the statement fails.
    const dropping = group.transaction(async (c) => {
      c.exec("ROLLBACK");
      throw new Error("SQLITE_FULL: database or disk is full");
    });
    const later = group.transaction(insert("c"));
    const results = await Promise.allSettled([first, dropping, later]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/SQLITE_FULL/);
    expect(counter.runs).toBe(2);
    expect(values()).toEqual(["a", "c"]);
  });

  it("fails everyone in the group when the COMMIT itself fails, and keeps nothing", async () => {
    // A deferred foreign key is checked at COMMIT: the second transaction's row has no parent.
    const results = await Promise.allSettled([group.transaction(insert("a")), group.transaction(insert("b", 42))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    for (const r of results) expect(String((r as PromiseRejectedResult).reason)).toMatch(/FOREIGN KEY/);
    expect(values()).toEqual([]);
    expect(db.inTransaction).toBe(false);
    expect(await group.transaction(insert("c"))).toBe("c");
    expect(values()).toEqual(["c"]);
  });

  it("gives a transaction asked for while a group runs to the next group, and bounds a group's size", async () => {
    let inner: Promise<string> | undefined;
    const outer = group.transaction(async (c) => {
      inner = group.transaction(insert("inner"));
      return insert("outer")(c);
    });
    expect(await outer).toBe("outer");
    expect(await inner).toBe("inner");
    expect(commits).toBe(2);
    commits = 0;
    const many = Array.from({ length: MAX_GROUP + 1 }, (_, i) => group.transaction(insert(`m${String(i).padStart(2, "0")}`)));
    expect(await Promise.all(many)).toHaveLength(MAX_GROUP + 1);
    expect(commits).toBe(2);
  });

  it("rolls back a lone transaction that fails, with no SAVEPOINT", async () => {
    const statements: string[] = [];
    const exec = vi.mocked(db.exec);
    exec.mockClear();
    await expect(group.transaction(async (c) => {
      await insert("a")(c);
      throw new Error("no");
    })).rejects.toThrow("no");
    for (const call of exec.mock.calls) statements.push(call[0]);
    expect(statements).toEqual(["BEGIN IMMEDIATE", "ROLLBACK"]);
    expect(values()).toEqual([]);
  });
});
