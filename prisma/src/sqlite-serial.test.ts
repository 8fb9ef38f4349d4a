// The SQLite serialiser must give the one connection back whatever way a transaction ends,
// including when SQLite has already rolled it back on its own (SQLITE_FULL) and Prisma's
// ROLLBACK fails: otherwise every later query waits for good.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { inTransactionScope, openDatabase, type OpenDatabase } from "./index";

/** Resolves with `p`, or rejects once `ms` have passed: a hang becomes a failure with a name. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still waiting after ${ms} ms: the connection is stuck`)), ms);
  });
  return Promise.race([p, hang]).finally(() => clearTimeout(timer));
}

vi.setConfig({ testTimeout: 30_000 });

/** A fresh SQLite file with one table `t`, for each test of the block; removed after it. */
function freshDatabase(): { current: OpenDatabase } {
  const holder = {} as { current: OpenDatabase };
  let dir: string;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-serial-"));
    holder.current = await openDatabase(`file:${path.join(dir, "t.db")}`);
    await holder.current.db.$executeRawUnsafe('CREATE TABLE "t" ("v" TEXT NOT NULL)');
  });
  afterEach(async () => {
    await holder.current.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return holder;
}

describe("SQLite serialiser after a transaction SQLite already ended", () => {
  const fresh = freshDatabase();

  it("frees the connection when the transaction was rolled back under Prisma's feet", async () => {
    const { db } = fresh.current;
    const failed = db.$transaction((tx) =>
      inTransactionScope(db, async () => {
        await tx.$executeRawUnsafe("ROLLBACK");
        throw new Error("failed after SQLite rolled back");
      }),
    );
    await expect(failed).rejects.toThrow(/failed after SQLite rolled back|no transaction/);
    expect(await within(db.$queryRawUnsafe<{ one: bigint }[]>("SELECT 1 AS one"), 5_000, "the next query")).toEqual([
      { one: 1n },
    ]);
    await within(db.$transaction((tx) => tx.$executeRawUnsafe(`INSERT INTO "t" VALUES ('after')`)), 5_000, "the next transaction");
  });

  it("heals after SQLITE_FULL, through Prisma and through plain SQL", async () => {
    const { db, sql } = fresh.current;
    // A page limit makes the file "full" at once, as a full volume would.
    const pages = await sql.read((run) => run.get<{ page_count: number }>("PRAGMA page_count"));
    await db.$queryRawUnsafe(`PRAGMA max_page_count = ${Number(pages?.page_count) + 2}`);
    const big = "x".repeat(64 * 1024);
    await expect(
      db.$transaction(async (tx) => {
        for (let i = 0; i < 10; i++) await tx.$executeRawUnsafe(`INSERT INTO "t" VALUES (?)`, big);
      }),
    ).rejects.toThrow(/full/i);
    await expect(
      within(
        sql.transaction(async (run) => {
          for (let i = 0; i < 10; i++) await run.run(`INSERT INTO "t" VALUES (?)`, [big]);
        }),
        5_000,
        "a plain-SQL transaction",
      ),
    ).rejects.toThrow(/full/i);
    // Space returns: writes succeed again on the same connection, no reopen.
    await db.$queryRawUnsafe("PRAGMA max_page_count = 1073741823");
    await within(db.$executeRawUnsafe(`INSERT INTO "t" VALUES ('small')`), 5_000, "a write after space returned");
    await within(sql.transaction((run) => run.run(`INSERT INTO "t" VALUES ('plain')`)), 5_000, "a plain-SQL write");
    expect(await sql.read((run) => run.get(`SELECT count(*) AS n FROM "t"`))).toEqual({ n: 2 });
  });
});

describe("whose turn it is", () => {
  const fresh = freshDatabase();

  // The scope is switched off between turns (it costs every promise while on): each new turn
  // must switch it on again, or the callback's own plain query would wait for itself.
  it("lets a transaction's callback query through the client, turn after turn, while others wait", async () => {
    const { db } = fresh.current;
    const count = () => db.$queryRawUnsafe<{ n: bigint }[]>('SELECT count(*) AS n FROM "t"');
    for (let turn = 0; turn < 3; turn++) {
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      let outsiderDone = false;
      const transaction = db.$transaction((tx) =>
        inTransactionScope(db, async () => {
          await tx.$executeRawUnsafe(`INSERT INTO "t" VALUES ('turn ${turn}')`);
          entered();
          await new Promise((resolve) => setTimeout(resolve, 30));
          const own = await count();
          return { own, outsiderDoneBeforeCommit: outsiderDone };
        }),
      );
      await inside;
      // Sent from outside the turn: it must wait for the commit, not run inside the transaction.
      const outsider = count().then((rows) => {
        outsiderDone = true;
        return rows;
      });
      const result = await within(transaction, 5_000, `turn ${turn}'s own plain query`);
      expect(result).toEqual({ own: [{ n: BigInt(turn + 1) }], outsiderDoneBeforeCommit: false });
      expect(await within(outsider, 5_000, "the outside read")).toEqual([{ n: BigInt(turn + 1) }]);
    }
  });
});

describe("plain SQL on SQLite", () => {
  it("keeps answering when callers build more statement texts than it keeps prepared", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-sql-"));
    const database = await openDatabase(`file:${path.join(dir, "t.db")}`);
    try {
      // One text per IN-list length, as live.audience.ts builds them: far more than the cache holds.
      for (let n = 1; n <= 600; n++) {
        const values = Array.from({ length: n }, (_, i) => i + 1);
        const row = await database.sql.read((run) => run.get<{ n: number }>(`SELECT count(*) AS n FROM (SELECT 1 WHERE 1 IN (${values.map(() => "?").join(", ")}))`, values));
        expect(row?.n).toBe(1);
      }
    } finally {
      await database.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
