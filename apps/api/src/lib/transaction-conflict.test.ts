// A change PostgreSQL fails to break a deadlock runs again, whole, on both ways a change is
// written (Prisma's transaction and the plain-SQL one of the hot paths); SQLite, whose writers
// take turns, never meets one. The deadlock below is real: two changes each hold one row and
// ask for the other's.
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildTestApp, createService, type TestApp } from "../../test/app";
import { verifyAuditChain } from "../modules/audit/audit.service";
import { presentService, serviceInclude } from "../modules/services/services.presenter";
import { runChange, runSqlChange, SYSTEM, type RecordEvent } from "./run-change";
import { CONFLICT_ATTEMPTS, isTransactionConflict, retryOnConflict } from "./transaction-conflict";

vi.setConfig({ testTimeout: 60_000 });

/** Resolves once `n` callers are waiting on it. */
function barrier(n: number): () => Promise<void> {
  let waiting = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return () => {
    if (++waiting === n) open();
    return opened;
  };
}

describe("a change that meets a deadlock on PostgreSQL", () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("runs again, and both changes of the cycle commit, each audited once", async () => {
    t = await buildTestApp("postgres");
    const { app } = t;
    const [a, b] = [await createService(app), await createService(app)];
    const bothHoldOne = barrier(2);
    const runs = { prisma: 0, sql: 0 };
    const record = async (record: RecordEvent, id: string) => {
      const service = await app.ctx.db.service.findUniqueOrThrow({ where: { id }, include: serviceInclude });
      record({ type: "service.updated", service: presentService(service), changed: ["name"] });
    };

    // Through Prisma: a's row, then b's.
    const viaPrisma = runChange(app.ctx, SYSTEM, async (tx, rec) => {
      runs.prisma += 1;
      await tx.$executeRawUnsafe(`UPDATE "Service" SET "name" = $1 WHERE "id" = $2`, `prisma ${runs.prisma}`, a.id);
      if (runs.prisma === 1) await bothHoldOne();
      await tx.$executeRawUnsafe(`UPDATE "Service" SET "name" = $1 WHERE "id" = $2`, `prisma ${runs.prisma}`, b.id);
      await record(rec, a.id);
      return runs.prisma;
    });
    // In plain SQL: b's row, then a's.
    const viaSql = runSqlChange(app.ctx, SYSTEM, async (sql, rec) => {
      runs.sql += 1;
      await sql.run(`UPDATE "Service" SET "name" = ? WHERE "id" = ?`, [`sql ${runs.sql}`, b.id]);
      if (runs.sql === 1) await bothHoldOne();
      await sql.run(`UPDATE "Service" SET "name" = ? WHERE "id" = ?`, [`sql ${runs.sql}`, a.id]);
      await record(rec, b.id);
      return runs.sql;
    });

    const [prismaRuns, sqlRuns] = await Promise.all([viaPrisma, viaSql]);
    // PostgreSQL failed exactly one of them, which then ran once more.
    expect(prismaRuns + sqlRuns).toBe(3);
    // The one that ran again committed last: both rows carry its names.
    const names = (await app.ctx.db.service.findMany({ where: { id: { in: [a.id, b.id] } } })).map((s) => s.name);
    expect(new Set(names)).toEqual(new Set([prismaRuns === 2 ? "prisma 2" : "sql 2"]));
    // The failed run left nothing behind: one audit event per change, and the chain holds.
    const audited = await app.ctx.db.auditEvent.findMany({ where: { action: "service.updated" } });
    expect(audited.map((e) => e.serviceId).sort()).toEqual([a.id, b.id].sort());
    expect((await verifyAuditChain(app.ctx)).firstBreak).toBeUndefined();
  });

  it("is not run again for any other failure", async () => {
    t = await buildTestApp("postgres");
    const { app } = t;
    const service = await createService(app);
    let runs = 0;
    const duplicate = runChange(app.ctx, SYSTEM, async (tx) => {
      runs += 1;
      await tx.$executeRawUnsafe(`INSERT INTO "Service" ("id", "name", "slug", "kind", "maxDurationSeconds", "defaultDurationSeconds", "updatedAt") VALUES ('x', 'x', $1, 'vpn', 60, 60, now())`, service.slug);
    });
    const err = await duplicate.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeDefined();
    expect(isTransactionConflict(err)).toBe(false);
    expect(runs).toBe(1);
  });
});

describe("retryOnConflict", () => {
  const deadlock = Object.assign(new Error("deadlock detected"), { code: "40P01" });

  it("gives up after its last attempt and throws the conflict", async () => {
    let runs = 0;
    const attempt = () => {
      runs += 1;
      return Promise.reject(deadlock);
    };
    await expect(retryOnConflict(attempt, () => 0)).rejects.toBe(deadlock);
    expect(runs).toBe(CONFLICT_ATTEMPTS);
  });

  it("answers with the first run that succeeds", async () => {
    const attempt = (run: number) => (run < 3 ? Promise.reject(Object.assign(new Error("could not serialize"), { code: "40001" })) : Promise.resolve(run));
    await expect(retryOnConflict(attempt, () => 0)).resolves.toBe(3);
  });

  it("runs a change that named a deleted row once more, and only once", async () => {
    const vanished = Object.assign(new Error("insert or update violates foreign key constraint"), { code: "23503" });
    let runs = 0;
    const attempt = () => {
      runs += 1;
      return Promise.reject(vanished);
    };
    await expect(retryOnConflict(attempt, () => 0)).rejects.toBe(vanished);
    expect(runs).toBe(2);
  });
});
