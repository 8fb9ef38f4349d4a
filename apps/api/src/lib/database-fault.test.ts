// The error shapes a database fault reaches the API in, as captured from the real drivers:
// Prisma over better-sqlite3 and over pg, the plain-SQL layer, and Node's sockets.
import { describe, expect, it } from "vitest";
import { Prisma } from "@postern/db";
import { databaseFault, faultReason } from "./database-fault";

function prismaError(code: string, cause?: Record<string, string>, message = "Invalid invocation:\n\nRaw query failed.") {
  return new Prisma.PrismaClientKnownRequestError(message, {
    code,
    clientVersion: "6.19.3",
    meta: cause ? { driverAdapterError: { name: "DriverAdapterError", cause } } : undefined,
  });
}

describe("databaseFault", () => {
  it("calls a full disk storage_full on either database", () => {
    expect(databaseFault(prismaError("SQLITE_FULL", undefined, "Invalid:\n\ndatabase or disk is full"))).toBe("storage_full");
    expect(databaseFault(Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" }))).toBe("storage_full");
    expect(databaseFault(prismaError("P2010", { kind: "postgres", code: "53100", originalCode: "53100" }))).toBe("storage_full");
  });

  it("calls a database that is down, restarting or out of connections unavailable", () => {
    expect(databaseFault(prismaError("P2010", { kind: "postgres", code: "57P03" }))).toBe("unavailable");
    expect(databaseFault(prismaError("P2010", { kind: "postgres", code: "57P01" }))).toBe("unavailable");
    expect(databaseFault(prismaError("P2010", { kind: "postgres", code: "08006" }))).toBe("unavailable");
    expect(databaseFault(prismaError("P1001", { kind: "DatabaseNotReachable" }))).toBe("unavailable");
    expect(databaseFault(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }))).toBe("unavailable");
    expect(databaseFault(new Error("Connection terminated unexpectedly"))).toBe("unavailable");
  });

  it("leaves every other failure alone", () => {
    expect(databaseFault(prismaError("P2002"))).toBeUndefined();
    expect(databaseFault(prismaError("P2010", { kind: "postgres", code: "23505" }))).toBeUndefined();
    expect(databaseFault(new Error("boom"))).toBeUndefined();
    expect(databaseFault(undefined)).toBeUndefined();
  });

  it("says in one line what the database said", () => {
    expect(faultReason(prismaError("P2010", { kind: "postgres", code: "57P03" }, "Invalid:\n\nthe database system is shutting down"))).toBe(
      "the database system is shutting down (57P03)",
    );
  });
});
