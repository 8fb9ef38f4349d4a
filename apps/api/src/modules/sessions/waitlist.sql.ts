// The rows a waitlist change reads, in plain SQL (see @postern/db sql.ts), inside the change's
// transaction: a place in line is an AccessSession `waiting` or `offered` (waitlist.service.ts).
import type { SqlRunner } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import { holderMaySeeColumn, mayHolderSee } from "../services/services.visibility";
import type { SessionRow } from "./sessions.presenter";
import { byRequest, lockSessionWhere, statusList } from "./sessions.sql";

/** The statuses of a place in line: waiting, or offered the service. */
export const LINE_STATUSES = ["waiting", "offered"] as const;
/** `LINE_STATUSES` as an SQL list. */
export const IN_LINE = statusList(LINE_STATUSES);

/** How many are in line for the service, offered or waiting. */
export async function lineLength(sql: SqlRunner, serviceId: string): Promise<number> {
  const row = await sql.get<{ n: number }>(`SELECT CAST(COUNT(*) AS INTEGER) AS "n" FROM "AccessSession" WHERE "serviceId" = ? AND "status" IN ${IN_LINE}`, [
    serviceId,
  ]);
  return Number(row?.n ?? 0);
}

/** The caller's place in the service's line, locked. */
export function lockPlaceInLine(ctx: DbContext, sql: SqlRunner, serviceId: string, userId: string): Promise<SessionRow | undefined> {
  return lockSessionWhere(ctx, sql, `s."serviceId" = ? AND s."userId" = ? AND s."status" IN ${IN_LINE}`, [serviceId, userId]);
}

/** Whether someone holds the service or has been offered it. */
export async function heldOrOffered(sql: SqlRunner, serviceId: string): Promise<boolean> {
  const row = await sql.get(`SELECT 1 AS "busy" FROM "AccessSession" WHERE "serviceId" = ? AND "status" IN ('active', 'offered') LIMIT 1`, [serviceId]);
  return row !== undefined;
}

/** When the service's next booked window opens, if it has one. */
export async function nextBookingStart(sql: SqlRunner, serviceId: string): Promise<Date | null> {
  const row = await sql.get<{ startsAt: Date }>(
    `SELECT "startsAt" FROM "AccessSession" WHERE "serviceId" = ? AND "status" = 'scheduled' ORDER BY "startsAt" LIMIT 1`,
    [serviceId],
  );
  return row?.startsAt ?? null;
}

/** Those who wait for the service (the oldest request first, then the lowest id; only the first
 * with `head`), each with whether they may still see it (`holderMaySee`). */
export async function waitingLine(
  ctx: Pick<DbContext, "provider">,
  sql: SqlRunner,
  serviceId: string,
  head = false,
): Promise<{ id: string; userId: string; maySee: boolean }[]> {
  const rows = await sql.all<{ id: string; userId: string; maySee: number }>(
    `SELECT s."id", s."userId", ${holderMaySeeColumn("u", `s."serviceId"`)} AS "maySee"
     FROM "AccessSession" s JOIN "User" u ON u."id" = s."userId"
     WHERE s."serviceId" = ? AND s."status" = 'waiting'${byRequest(ctx, "ASC", true)}${head ? " LIMIT 1" : ""}`,
    [serviceId],
  );
  return rows.map((row) => ({ id: row.id, userId: row.userId, maySee: mayHolderSee(row.maySee) }));
}

/** The first who waits for the service, and whether they may still see it. */
export async function headOfLine(ctx: Pick<DbContext, "provider">, sql: SqlRunner, serviceId: string): Promise<{ id: string; maySee: boolean } | undefined> {
  return (await waitingLine(ctx, sql, serviceId, true))[0];
}
