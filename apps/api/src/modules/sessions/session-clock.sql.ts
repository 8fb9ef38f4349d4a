// What the session clock reads on every tick, in plain SQL (see @postern/db sql.ts): which
// sessions are due now (requests whose window passed undecided among them), when the next one
// falls due, and who waits in line. Through Prisma a tick with nothing due was seven queries of
// about a millisecond of CPU each.
import type { DbContext } from "../../lib/db-context";
import { IN_LINE } from "./waitlist.sql";

/** The instant at which a session in each status is due: a booked window opens, an active
 * session expires, an offer to the first in line lapses. (A pending request with a window falls
 * due when the window ends, which no column holds: see `WINDOW_END`.) */
const DUE_AT = { scheduled: "startsAt", active: "expiresAt", offered: "offerExpiresAt" } as const;
export type ClockStatus = keyof typeof DUE_AT;

/** How many sessions of one kind a tick moves along; the rest wait for the next tick, at once. */
const DUE_BATCH = 500;

const dueText = (status: ClockStatus) =>
  `SELECT "id" FROM "AccessSession" WHERE "status" = '${status}' AND "${DUE_AT[status]}" <= ? ORDER BY "${DUE_AT[status]}" LIMIT ${DUE_BATCH}`;
const dueTexts = { scheduled: dueText("scheduled"), active: dueText("active"), offered: dueText("offered") };

/** The sessions in `status` due at `now`, the longest overdue first. */
export async function dueSessionIds(ctx: DbContext, status: ClockStatus, now: Date): Promise<string[]> {
  const rows = await ctx.sql.read((sql) => sql.all<{ id: string }>(dueTexts[status], [now]));
  return rows.map((r) => r.id);
}

const nextTexts = (Object.keys(DUE_AT) as ClockStatus[]).map((status) => ({
  column: DUE_AT[status],
  text: `SELECT "${DUE_AT[status]}" FROM "AccessSession" WHERE "status" = '${status}' AND "${DUE_AT[status]}" IS NOT NULL ORDER BY "${DUE_AT[status]}" LIMIT 1`,
}));

/** When a pending request's window ends: its booked start plus its length, in SQL. A request
 * without a start ("start when approved") has no window and never falls due. Used to order only,
 * the comparison with the clock is made on the rows read (`windowEnd`). */
const WINDOW_END = {
  postgres: `("startsAt" + "durationSeconds" * interval '1 second')`,
  sqlite: `(julianday("startsAt") * 86400.0 + "durationSeconds")`,
} as const;

const staleTexts = {
  due: (ctx: DbContext) =>
    `SELECT "id", "startsAt", "durationSeconds" FROM "AccessSession" WHERE "status" = 'pending' AND "startsAt" IS NOT NULL AND "startsAt" <= ?
      ORDER BY ${WINDOW_END[ctx.provider]} LIMIT ${DUE_BATCH}`,
  next: (ctx: DbContext) =>
    `SELECT "startsAt", "durationSeconds" FROM "AccessSession" WHERE "status" = 'pending' AND "startsAt" IS NOT NULL ORDER BY ${WINDOW_END[ctx.provider]} LIMIT 1`,
};

/** The instant a pending request's window ends. */
export const windowEnd = (r: { startsAt: Date; durationSeconds: number }) => new Date(r.startsAt.getTime() + r.durationSeconds * 1000);

/** Pending requests whose whole window has passed at `now`, the longest overdue first: no approval
 * can start them any more (the approval refuses them), so the clock expires them. Read by the end
 * of their window, so those due come before any whose window still runs. */
export async function dueStaleRequestIds(ctx: DbContext, now: Date): Promise<string[]> {
  const rows = await ctx.sql.read((sql) => sql.all<{ id: string; startsAt: Date; durationSeconds: number }>(staleTexts.due(ctx), [now]));
  return rows.filter((r) => windowEnd(r) <= now).map((r) => r.id);
}

/** The earliest instant at which any session falls due, or null when none will. */
export function nextDue(ctx: DbContext): Promise<Date | null> {
  return ctx.sql.read(async (sql) => {
    let next: Date | null = null;
    for (const { column, text } of nextTexts) {
      const at = (await sql.get<Record<string, Date>>(text))?.[column];
      if (at && (!next || at < next)) next = at;
    }
    const request = await sql.get<{ startsAt: Date; durationSeconds: number }>(staleTexts.next(ctx));
    const ends = request && windowEnd(request);
    if (ends && (!next || ends < next)) next = ends;
    return next;
  });
}

/** Every session in an exclusive service's line (waiting, or offered the service). */
export function sessionsInLine(ctx: DbContext): Promise<{ id: string; serviceId: string }[]> {
  return ctx.sql.read((sql) => sql.all(`SELECT "id", "serviceId" FROM "AccessSession" WHERE "status" IN ${IN_LINE}`));
}

/** Services with someone waiting whose line may move: an exclusive one nobody holds or is offered,
 * and a shared one whatever its use (everyone in its line may have it). A shared service's line
 * is offered when the service is made shared; waiting entries on one are those an older version
 * left behind, which would otherwise wait for a shared service in use to be free, maybe forever.
 * The transaction that makes the offer checks again under the service's lock; a service that
 * frees up after this read is looked at again on the tick its freeing event asks for. */
export async function servicesFreeForLine(ctx: DbContext): Promise<string[]> {
  const rows = await ctx.sql.read((sql) =>
    sql.all<{ serviceId: string }>(
      `SELECT DISTINCT w."serviceId" FROM "AccessSession" w JOIN "Service" v ON v."id" = w."serviceId"
        WHERE w."status" = 'waiting'
        AND (NOT v."exclusive"
          OR NOT EXISTS (SELECT 1 FROM "AccessSession" b WHERE b."serviceId" = w."serviceId" AND b."status" IN ('active', 'offered')))`,
    ),
  );
  return rows.map((r) => r.serviceId);
}
