import { z } from "zod";
import { isInTimeRange, TIME_MAX, TIME_RANGE_MESSAGE, ZId, ZPage, ZText } from "./common";
import { ZAuditAction } from "./events";

/** One entry of the hash-chained audit trail. Actions are named `<resource>.<verb>`. */
export const ZAuditEvent = z.object({
  id: ZId,
  /** Position in the chain. */
  seq: z.number().int(),
  at: z.string(),
  actor: z.object({ id: ZId, username: z.string() }).optional(),
  /** The event type (`session.started`, …; see events.ts), or an older row's legacy name. */
  action: ZAuditAction,
  target: z.string().optional(),
  serviceId: z.string().optional(),
  sessionId: z.string().optional(),
  sourceIp: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
  hash: z.string(),
  prevHash: z.string(),
});
export type TAuditEvent = z.infer<typeof ZAuditEvent>;

/** A page of audit events, newest first. */
export const ZAuditPage = ZPage(ZAuditEvent);
export type TAuditPage = z.infer<typeof ZAuditPage>;

// ---------------------------------------------------------------------------------------------
// ISO 8601 weeks (UTC): the unit of the CSV export and of the weekly files. Plain functions, so
// the SPA can offer "this week" and validate input exactly as the API does.

const DAY_MS = 24 * 3600 * 1000;

/** The ISO week (`2026-W47`) that holds an instant, counted in UTC. */
export function isoWeekOf(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const weekday = d.getUTCDay() || 7; // Monday 1 … Sunday 7
  d.setUTCDate(d.getUTCDate() + 4 - weekday); // the week's Thursday decides its year
  const year = d.getUTCFullYear();
  const week = Math.ceil(((d.getTime() - Date.UTC(year, 0, 1)) / DAY_MS + 1) / 7);
  return `${String(year).padStart(4, "0")}-W${String(week).padStart(2, "0")}`;
}

/** Monday 00:00 UTC of an ISO week and the Monday after it; null when there is no such week. */
export function isoWeekRange(week: string): { from: Date; to: Date } | null {
  const m = /^(\d{4})-W(\d{2})$/.exec(week);
  if (!m) return null;
  const year = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || n > 53) return null;
  const jan4 = Date.UTC(year, 0, 4); // 4 January is always in week 1
  const mondayOfWeek1 = jan4 - ((new Date(jan4).getUTCDay() || 7) - 1) * DAY_MS;
  const from = new Date(mondayOfWeek1 + (n - 1) * 7 * DAY_MS);
  if (isoWeekOf(from) !== week) return null; // week 53 of a year that has 52
  return { from, to: new Date(from.getTime() + 7 * DAY_MS) };
}

/** An ISO week, `YYYY-Www`. */
export const ZIsoWeek = z
  .string()
  .regex(/^\d{4}-W\d{2}$/, "an ISO week like 2026-W47")
  .refine((w) => isoWeekRange(w) !== null, "no such ISO week (weeks run from W01 to W52, or W53 in some years)")
  .refine((w) => {
    const range = isoWeekRange(w);
    return range === null || (isInTimeRange(range.from) && range.to <= TIME_MAX);
  }, TIME_RANGE_MESSAGE);

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** A time bound: an ISO date (`2026-11-16`, UTC) or an ISO date-time with offset. */
export const ZAuditTime = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], {
    error: "an ISO 8601 date or date-time with offset, e.g. 2026-11-16 or 2026-11-16T08:00:00Z",
  })
  // Both edges: `to=9998-12-31` reaches into the next day.
  .refine((v) => isInTimeRange(auditTimeBound(v, "from")) && auditTimeBound(v, "to") <= TIME_MAX, TIME_RANGE_MESSAGE);

/**
 * The instant a bound stands for. `from` is inclusive, `to` exclusive; a date alone means
 * midnight UTC at its start for `from`, and the end of that day for `to` (so `to=2026-11-30`
 * includes 30 November).
 */
export function auditTimeBound(value: string, edge: "from" | "to"): Date {
  if (DATE_ONLY.test(value)) {
    const start = new Date(`${value}T00:00:00Z`);
    return edge === "to" ? new Date(start.getTime() + DAY_MS) : start;
  }
  return new Date(value);
}

function checkRange(q: { from?: string; to?: string }, ctx: z.RefinementCtx): void {
  if (q.from && q.to && auditTimeBound(q.from, "from") >= auditTimeBound(q.to, "to")) {
    ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
  }
}

/** `GET /api/audit`: filters and a cursor; every filter is optional. */
export const ZAuditListQuery = z
  .strictObject({
    /** Events at or after this time. */
    from: ZAuditTime.optional(),
    /** Events before this time (a date alone includes that whole day). */
    to: ZAuditTime.optional(),
    /** A user id or username; token actors are `token:<id>` or `token:<name>`. */
    actor: ZText.trim().min(1).max(128).optional(),
    /** Events about this service. */
    serviceId: ZId.optional(),
    /** An exact action (`session.started`) or a prefix ending in a dot (`session.`). */
    action: ZText.trim()
      .max(64)
      .regex(/^[a-z0-9_]+(\.[a-z0-9_]+)*\.?$/, "an action like session.started, or a prefix like session.")
      .optional(),
    /** Page size, 1–500 (default 100). */
    limit: z.coerce.number().int().min(1).max(500).optional(),
    /** The `nextCursor` of the previous page. */
    cursor: ZText.min(1).max(64).optional(),
  })
  .superRefine(checkRange);
export type TAuditListQuery = z.infer<typeof ZAuditListQuery>;

/** `GET /api/audit/export.csv` and `postern audit export`: one ISO week, or a range. */
export const ZAuditExportQuery = z
  .strictObject({
    /** An ISO week, e.g. 2026-W47 (Monday 00:00 UTC to the next Monday). */
    week: ZIsoWeek.optional(),
    /** Start of the range (inclusive); needs `to`. */
    from: ZAuditTime.optional(),
    /** End of the range (exclusive; a date alone includes that day); needs `from`. */
    to: ZAuditTime.optional(),
  })
  .superRefine((q, ctx) => {
    if (q.week !== undefined && (q.from !== undefined || q.to !== undefined)) {
      ctx.addIssue({ code: "custom", path: ["week"], message: "give either week or from and to, not both" });
    } else if (q.week === undefined && q.from === undefined && q.to === undefined) {
      ctx.addIssue({ code: "custom", path: ["week"], message: "give week (YYYY-Www), or from and to" });
    } else if (q.week === undefined && q.from === undefined) {
      ctx.addIssue({ code: "custom", path: ["from"], message: "required together with to" });
    } else if (q.week === undefined && q.to === undefined) {
      ctx.addIssue({ code: "custom", path: ["to"], message: "required together with from" });
    } else {
      checkRange(q, ctx);
    }
  });
export type TAuditExportQuery = z.infer<typeof ZAuditExportQuery>;

/** The column headers of every audit CSV (download, CLI export, weekly files), in order. */
export const AUDIT_CSV_COLUMNS = [
  "time",
  "actor",
  "action",
  "target",
  "service",
  "session",
  "source IP",
  "details",
  "seq",
  "hash",
  // Last, so that a script reading the columns above by position reads them as before. With them
  // a file can be verified without the database (`postern audit verify --csv`).
  "actor id",
  "prev hash",
] as const;

/** `GET /api/audit/verify`: the result of walking the hash chain. */
export const ZAuditVerifyResult = z.object({
  /** Events checked and found intact before the first break (all of them when intact). */
  checked: z.number().int(),
  intact: z.boolean(),
  /** The first event that does not match, and why (no id: the event is missing, the chain ends before it). */
  firstBreak: z.object({ seq: z.number().int(), id: z.string().optional(), reason: z.string() }).optional(),
  /** The newest event checked: note it (`postern audit verify --expect <seq>:<hash>`) to detect
   * later a chain cut short or rewritten after it. Null for an empty trail. */
  head: z.object({ seq: z.number().int(), hash: z.string() }).nullable().optional(),
  /** Which event recorded outside the database the chain was checked against: the audit files'
   * newest (POSTERN_AUDIT_EXPORT_DIR); null when there is none. */
  anchoredAt: z.object({ seq: z.number().int(), source: z.literal("audit files") }).nullable().optional(),
});
export type TAuditVerifyResult = z.infer<typeof ZAuditVerifyResult>;
