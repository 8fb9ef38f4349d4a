// The plain-SQL runner's two shortcuts (@postern/db sql.ts): a write sent without waiting, and
// a last statement that carries the COMMIT. On PostgreSQL both ride in a round trip with the
// next statement; whatever fails, the change is all or nothing and the first error is the one
// reported — not PostgreSQL's "current transaction is aborted" for the statements after it.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildTestApp, type TestApp } from "../../test/app";
import { providers } from "../../test/databases";

vi.setConfig({ testTimeout: 60_000 });

const insert = `INSERT INTO "Group" ("id", "name", "createdAt") VALUES (?, ?, ?)`;
const insertReturning = `${insert} RETURNING "id"`;
const count = `SELECT COUNT(*) AS "n" FROM "Group" WHERE "name" LIKE ?`;

describe.each(providers)("the SQL runner on %s", (provider) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp(provider);
  }, 120_000);
  afterAll(async () => t?.close());

  const groups = async (prefix: string) => {
    const row = await t.app.ctx.sql.read((sql) => sql.get<{ n: number | string }>(count, [`${prefix}%`]));
    return Number(row?.n);
  };

  it("plans a statement with its values each call when asked, and keeps the others prepared", async () => {
    const { perCall, prepared } = await t.app.ctx.sql.transaction(async (sql) => {
      const kept = await sql.all<{ kept: string }>(`SELECT ? AS "kept"`, ["a"]);
      const perCall = await sql.all<{ per_call: string }>(`SELECT ? AS "per_call"`, ["b"], { planPerCall: true });
      expect(kept).toEqual([{ kept: "a" }]);
      if (provider === "sqlite") return { perCall, prepared: [] };
      // The connection's own prepared statements: the runner named the first, not the second.
      const prepared = await sql.final<{ statement: string }>(`SELECT "statement" FROM pg_prepared_statements`);
      return { perCall, prepared: prepared.map((p) => p.statement) };
    });
    expect(perCall).toEqual([{ per_call: "b" }]);
    if (provider === "postgres") {
      expect(prepared.some((text) => text.includes(`"kept"`))).toBe(true);
      expect(prepared.some((text) => text.includes(`"per_call"`))).toBe(false);
    }
  });

  it("commits writes sent without waiting, with the last statement", async () => {
    const rows = await t.app.ctx.sql.transaction(async (sql) => {
      sql.send(insert, ["sent-1", "sent-a", new Date()]);
      sql.send(insert, ["sent-2", "sent-b", new Date()]);
      return sql.final<{ name: string }>(`SELECT "name" FROM "Group" WHERE "name" LIKE ? ORDER BY "name"`, ["sent-%"]);
    });
    expect(rows.map((r) => r.name)).toEqual(["sent-a", "sent-b"]);
    expect(await groups("sent-")).toBe(2);
  });

  it("reports a failed write sent without waiting at the next statement, and keeps nothing", async () => {
    const failed = t.app.ctx.sql.transaction(async (sql) => {
      sql.send(insert, ["dup-1", "dup-a", new Date()]);
      sql.send(insert, ["dup-1", "dup-b", new Date()]); // the same primary key
      await sql.all(count, ["dup-%"]);
      throw new Error("not reached");
    });
    await expect(failed).rejects.toThrow(/unique|duplicate/i);
    expect(await groups("dup-")).toBe(0);
  });

  it("keeps nothing when the last statement fails, though its COMMIT went with it", async () => {
    const failed = t.app.ctx.sql.transaction(async (sql) => {
      sql.send(insert, ["last-1", "last-a", new Date()]);
      return sql.final(insertReturning, ["last-1", "last-b", new Date()]);
    });
    await expect(failed).rejects.toThrow(/unique|duplicate/i);
    expect(await groups("last-")).toBe(0);
    // The connection went back to the pool in a usable state.
    await t.app.ctx.sql.transaction(async (sql) => sql.final(insertReturning, ["last-2", "last-c", new Date()]));
    expect(await groups("last-")).toBe(1);
  });

  it("reports a failed write sent without waiting at the commit when nothing follows it", async () => {
    const failed = t.app.ctx.sql.transaction(async (sql) => {
      sql.send(insert, ["tail-1", "tail-a", new Date()]);
      sql.send(insert, ["tail-1", "tail-b", new Date()]);
    });
    await expect(failed).rejects.toThrow(/unique|duplicate/i);
    expect(await groups("tail-")).toBe(0);
  });

  // The chain's flush goes right behind the COMMIT (live.log.ts): the change is committed by then,
  // but the caller hears of its failure, and the connection, whose session may still hold what the
  // statement was to consume, is not handed out again.
  it.runIf(provider === "postgres")("reports a failed statement after the COMMIT, and does not reuse its connection", async () => {
    const backend = async (sql: { all<T extends object>(q: string): Promise<T[]> }) => (await sql.all<{ pid: number }>("SELECT pg_backend_pid() AS \"pid\""))[0]!.pid;
    let used = 0;
    const failed = t.app.ctx.sql.transaction(async (sql) => {
      used = await backend(sql);
      sql.send(insert, ["after-1", "after-a", new Date()]);
      return sql.finalThen!(insertReturning, ["after-2", "after-b", new Date()], "SELECT 1 / 0");
    });
    await expect(failed).rejects.toThrow(/division by zero/);
    expect(await groups("after-")).toBe(2);
    const pids = await Promise.all(Array.from({ length: 8 }, () => t.app.ctx.sql.transaction(async (sql) => backend(sql))));
    expect(pids).not.toContain(used);
  });

  it.runIf(provider === "postgres")("keeps its connections through a quiet spell longer than node-postgres's idle timeout", async () => {
    const pidsNow = async () => {
      // Both pools' connections at once: Prisma's (admin writes, logins) and the plain-SQL one.
      const viaPrisma = Array.from({ length: 3 }, () => t.app.ctx.db.$queryRawUnsafe<{ pid: number }[]>(`SELECT pg_backend_pid() AS "pid", pg_sleep(0.05)::text AS "slept"`));
      const viaSql = Array.from({ length: 2 }, () => t.app.ctx.sql.transaction((sql) => sql.all<{ pid: number }>(`SELECT pg_backend_pid() AS "pid", pg_sleep(0.05)::text AS "slept"`)));
      return new Set((await Promise.all([...viaPrisma, ...viaSql])).map((rows) => rows[0]!.pid));
    };
    const before = await pidsNow();
    expect(before.size).toBe(5);
    // node-postgres's default closes a connection idle for 10 s.
    await new Promise((r) => setTimeout(r, 11_000));
    const after = await pidsNow();
    expect([...after].sort()).toEqual([...before].sort());
  });

  it.runIf(provider === "sqlite")("offers no statement after the COMMIT on SQLite", async () => {
    await t.app.ctx.sql.transaction(async (sql) => {
      expect(sql.finalThen).toBeUndefined();
      return sql.final(insertReturning, ["lite-1", "lite-a", new Date()]);
    });
  });
});
