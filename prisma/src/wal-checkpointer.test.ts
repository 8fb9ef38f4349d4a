// The WAL checkpointer thread on a real SQLite file: it starts only under write load, copies the
// WAL into the database without the writer's help (a batch of commits at a time, so that lone
// commits do not each restart the WAL), leaves the WAL bounded, loses nothing, and a failing
// worker is reported, not fatal.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { openDatabase } from "./index";
import { BATCH_COMMITS, COMMITS_BEFORE_WORKER, LazyWalCheckpointer } from "./wal-checkpointer";

vi.setConfig({ testTimeout: 30_000 });

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-wal-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("WAL checkpointer thread", () => {
  it("starts under write load and checkpoints the WAL the writer leaves alone", async () => {
    const file = path.join(dir, "t.db");
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    // The writer never checkpoints by itself here: whatever gets copied, the worker copied.
    db.pragma("wal_autocheckpoint = 0");
    db.exec('CREATE TABLE "t" ("v" TEXT NOT NULL)');
    const checkpointer = new LazyWalCheckpointer(file, 10);
    try {
      const insert = db.prepare('INSERT INTO "t" ("v") VALUES (?)');
      for (let i = 0; i < COMMITS_BEFORE_WORKER - 1; i++) {
        insert.run(`row ${i}`);
        checkpointer.committed();
      }
      expect(checkpointer.started).toBe(false);
      insert.run("the last");
      checkpointer.committed();
      expect(checkpointer.started).toBe(true);
      // A PASSIVE checkpoint that finds nothing left to copy: [busy, frames in the WAL, frames copied].
      await until(() => {
        const [row] = db.pragma("wal_checkpoint(PASSIVE)") as { busy: number; log: number; checkpointed: number }[];
        return row !== undefined && row.log > 0 && row.log === row.checkpointed;
      }, "the worker copying the WAL");
      // The database file itself holds the rows now: a reader of the file alone sees them.
      await checkpointer.stop();
      db.close();
      fs.rmSync(`${file}-wal`, { force: true });
      fs.rmSync(`${file}-shm`, { force: true });
      const copy = new Database(file, { readonly: true });
      expect((copy.prepare('SELECT count(*) AS n FROM "t"').get() as { n: number }).n).toBe(COMMITS_BEFORE_WORKER);
      copy.close();
    } finally {
      await checkpointer.stop();
      if (db.open) db.close();
    }
  });

  it("copies lone commits only once a batch of them has come, so the writer's next commit does not restart the WAL", async () => {
    const file = path.join(dir, "t.db");
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("wal_autocheckpoint = 0");
    db.exec('CREATE TABLE "t" ("v" TEXT NOT NULL)');
    // The table in the file itself, so that a copy of the file alone can be counted.
    db.pragma("wal_checkpoint(TRUNCATE)");
    const batch = 8;
    const checkpointer = new LazyWalCheckpointer(file, 10, batch);
    const errors: Error[] = [];
    checkpointer.onError = (err) => errors.push(err);
    const insert = db.prepare('INSERT INTO "t" ("v") VALUES (?)');
    const commit = (v: string) => {
      insert.run(v);
      checkpointer.committed();
    };
    /** Rows in the database file by itself, as a copy without its WAL reads them. */
    const rowsInFile = () => {
      const copy = path.join(dir, `copy-${Math.random()}.db`);
      fs.copyFileSync(file, copy);
      const reader = new Database(copy, { readonly: true });
      try {
        return (reader.prepare('SELECT count(*) AS n FROM "t"').get() as { n: number }).n;
      } finally {
        reader.close();
      }
    };
    try {
      for (let i = 0; i < COMMITS_BEFORE_WORKER; i++) commit(`busy ${i}`);
      await until(() => rowsInFile() === COMMITS_BEFORE_WORKER, "the worker copying the first commits");
      // Changes at a team's pace: each one comes after the worker has looked several times.
      for (let i = 0; i < batch - 1; i++) {
        commit(`lone ${i}`);
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      expect(rowsInFile()).toBe(COMMITS_BEFORE_WORKER);
      const [pending] = db.pragma("wal_checkpoint(PASSIVE)") as { log: number; checkpointed: number }[];
      // Left in the WAL (which the writer then appended to, rather than starting it over).
      expect(pending!.log).toBeGreaterThanOrEqual(batch - 1);
      commit("the batch's last");
      for (let i = 0; i < batch; i++) commit(`more ${i}`);
      await until(() => rowsInFile() === COMMITS_BEFORE_WORKER + 2 * batch, "the worker copying a full batch");
      expect(errors).toEqual([]);
      expect(BATCH_COMMITS).toBeGreaterThan(1);
    } finally {
      await checkpointer.stop();
      db.close();
    }
  });

  it("reports a worker that cannot open the database, and stays stopped", async () => {
    const checkpointer = new LazyWalCheckpointer(path.join(dir, "missing.db"), 10);
    const errors: Error[] = [];
    checkpointer.onError = (err) => errors.push(err);
    for (let i = 0; i < COMMITS_BEFORE_WORKER; i++) checkpointer.committed();
    await until(() => errors.length > 0, "the worker's failure reported");
    expect(errors[0]?.message).toMatch(/unable to open|does not exist|SQLITE_CANTOPEN/i);
    await checkpointer.stop();
  });

  it("keeps the server's WAL bounded under sustained plain-SQL changes, and loses none of them", async () => {
    const database = await openDatabase(`file:${path.join(dir, "s.db")}`);
    try {
      await database.db.$executeRawUnsafe('CREATE TABLE "t" ("v" TEXT NOT NULL, "pad" TEXT NOT NULL)');
      const pad = "x".repeat(3000);
      let largest = 0;
      for (let round = 0; round < 300; round++) {
        await Promise.all(
          Array.from({ length: 10 }, (_, i) => database.sql.transaction((sql) => sql.run('INSERT INTO "t" ("v", "pad") VALUES (?, ?)', [`${round}.${i}`, pad]))),
        );
        largest = Math.max(largest, fs.statSync(path.join(dir, "s.db-wal")).size);
      }
      expect(database.walCheckpointer?.started).toBe(true);
      const [row] = await database.sql.read((sql) => sql.all<{ n: number }>('SELECT count(*) AS n FROM "t"'));
      expect(row?.n).toBe(3000);
      // SQLite's own threshold is 1,000 pages (about 4 MB); 3,000 rows of 3 KB are about 9 MB.
      expect(largest).toBeLessThan(6 * 1024 * 1024);
    } finally {
      await database.close();
    }
  });
});
