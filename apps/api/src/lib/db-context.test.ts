// Plain queries and interactive transactions must not interleave: a read outside a transaction
// never sees its uncommitted rows, and a write outside it never joins it (SQLite shares one
// connection between them; PostgreSQL is checked to behave the same).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { buildTestApp, type TestApp } from "../../test/app";
import { providers } from "../../test/databases";
import { inTransaction } from "./db-context";

// A few seconds each on a quiet machine; the margin is for a loaded CI box.
vi.setConfig({ testTimeout: 120_000 });

/** A transaction that creates a group, then stays open until `finish` is called. */
function openTransaction(t: TestApp, name: string) {
  let finish!: (commit: boolean) => void;
  const decided = new Promise<boolean>((resolve) => (finish = resolve));
  let created!: () => void;
  const ready = new Promise<void>((resolve) => (created = resolve));
  const done = inTransaction(t.app.ctx, async (tx) => {
    await tx.group.create({ data: { name } });
    created();
    if (!(await decided)) throw new Error("rolled back on purpose");
  }).catch((err: Error) => err.message);
  return { ready, finish, done };
}

describe.each(providers)("database context on %s", (provider) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildTestApp(provider);
  });
  afterEach(async () => t.close());

  it("a plain read never sees a concurrent transaction's uncommitted row", async () => {
    const open = openTransaction(t, "uncommitted");
    await open.ready;
    // Prisma queries are lazy: `then` sends this one now, while the transaction is open.
    const read = t.app.ctx.db.group.findMany({ where: { name: "uncommitted" } }).then((rows) => rows);
    await new Promise((r) => setTimeout(r, 50));
    open.finish(false);
    expect(await open.done).toBe("rolled back on purpose");
    expect(await read).toEqual([]);
    expect(await t.app.ctx.db.group.count({ where: { name: "uncommitted" } })).toBe(0);
  });

  it("a plain write during a transaction that rolls back is kept", async () => {
    const open = openTransaction(t, "doomed");
    await open.ready;
    const outside = t.app.ctx.db.group.create({ data: { name: "independent" } }).then((row) => row);
    await new Promise((r) => setTimeout(r, 50));
    open.finish(false);
    await open.done;
    await outside;
    const names = (await t.app.ctx.db.group.findMany({ select: { name: true } })).map((g) => g.name);
    expect(names).toContain("independent");
    expect(names).not.toContain("doomed");
  });

  it("queries through ctx.db inside a transaction's callback still work (no self-deadlock)", async () => {
    const count = await inTransaction(t.app.ctx, async (tx) => {
      await tx.group.create({ data: { name: "inside" } });
      return t.app.ctx.db.group.count();
    });
    // On SQLite the callback's plain query runs on the transaction's connection; on PostgreSQL
    // it runs on another connection and cannot see the uncommitted row.
    expect(count).toBe(provider === "sqlite" ? 1 : 0);
    expect(await t.app.ctx.db.group.count()).toBe(1);
  });

  it("many plain queries and transactions at once all complete", async () => {
    const work = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0
        ? inTransaction(t.app.ctx, async (tx) => {
            await tx.group.create({ data: { name: `g${i}` } });
            await new Promise((r) => setTimeout(r, 5));
          })
        : t.app.ctx.db.group.create({ data: { name: `g${i}` } }).then(() => undefined),
    );
    await Promise.all(work);
    expect(await t.app.ctx.db.group.count()).toBe(20);
  });
});
