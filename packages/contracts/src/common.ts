import { z } from "zod";

// Every string a client sends goes through `ZText`: PostgreSQL cannot store NUL, and an unpaired
// UTF-16 surrogate has no UTF-8 form (it would be stored as U+FFFD, or refused, and the audit
// hash would no longer match what was sent). Refusing both here keeps them away from every
// database, log line and hash, with a 400 that names the field.
// With the `u` flag a surrogate class matches only surrogates that are not part of a pair.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Whether a string holds only characters every database stores as sent. */
export function isStorableText(value: string): boolean {
  return !value.includes("\u0000") && !LONE_SURROGATE.test(value);
}

export const UNSTORABLE_TEXT_MESSAGE = "must not contain NUL (\\u0000) or unpaired surrogate characters";

/** A string from a client: no NUL, no unpaired surrogate. Chain `.max()` etc. on it. */
export const ZText = z.string().refine(isStorableText, UNSTORABLE_TEXT_MESSAGE);

/** An opaque identifier (cuid). */
export const ZId = ZText.min(1).max(64);

/**
 * Instants a client may send: from 2000 until the start of 9999, so that any instant plus the
 * longest duration Postern allows (a year) still fits every database and ISO-8601 with four
 * year digits.
 */
export const TIME_MIN = new Date("2000-01-01T00:00:00Z");
export const TIME_MAX = new Date("9999-01-01T00:00:00Z");
export const TIME_RANGE_MESSAGE = "must be between 2000-01-01 and 9998-12-31";

export function isInTimeRange(instant: Date): boolean {
  const ms = instant.getTime();
  return ms >= TIME_MIN.getTime() && ms < TIME_MAX.getTime();
}

/** An ISO-8601 timestamp as sent over the wire, within the instants Postern keeps. */
export const ZTimestamp = z.iso
  .datetime({ offset: true, error: "an ISO 8601 date-time with offset, e.g. 2026-11-16T08:00:00Z" })
  .refine((value) => isInTimeRange(new Date(value)), TIME_RANGE_MESSAGE);

/** An http(s) URL a browser may follow: no `javascript:` or `data:`, at most 2,048 characters. */
export const ZHttpUrl = ZText.max(2048, "at most 2048 characters").pipe(
  z.url({ protocol: /^https?$/, error: "an http:// or https:// URL" }),
);

/** The largest count or sequence number a client may send: the database keeps them as 32-bit integers. */
export const MAX_INT32 = 2_147_483_647;

/** Route parameters for `/:id` routes. */
export const ZIdParams = z.object({ id: ZId });
export type TIdParams = z.infer<typeof ZIdParams>;

/** A page of results with an opaque cursor for the next page (absent on the last page). */
export function ZPage<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().optional() });
}
