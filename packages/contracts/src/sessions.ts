import { z } from "zod";
import { ZId, ZText, ZTimestamp } from "./common";
import { ZUserRef } from "./users";

/**
 * `waiting` and `offered` go beyond the SPEC's list because a waitlist entry is neither a
 * request for approval (`pending`) nor a booked window (`scheduled`): `waiting` is a place in an
 * exclusive service's queue, `offered` is the head of the queue holding the freed service until
 * `offerExpiresAt` while its owner decides. A lapsed offer ends as `expired` without `startedAt`.
 */
export const ZSessionStatus = z.enum(["pending", "scheduled", "waiting", "offered", "active", "ended", "expired", "denied"]);
export type TSessionStatus = z.infer<typeof ZSessionStatus>;

/** Statuses of a session that is not over yet: what `GET /api/sessions?active=true` lists and what
 * the board shows. One list for the server and the SPA. */
export const OPEN_STATUSES = ["pending", "scheduled", "waiting", "offered", "active"] as const satisfies readonly TSessionStatus[];
export type TOpenStatus = (typeof OPEN_STATUSES)[number];
export function isOpenStatus(status: string): status is TOpenStatus {
  return (OPEN_STATUSES as readonly string[]).includes(status);
}

/** An access session: one person holding one service for a limited time. */
export const ZSession = z.object({
  id: ZId,
  serviceId: ZId,
  userId: ZId,
  /** The holder (who, not their e-mail or groups). */
  user: ZUserRef,
  status: ZSessionStatus,
  reason: z.string().optional(),
  /** The address the gateway admits for this session. Admins see it, and so does its holder in
   * the answers to their own requests and in their session history; what members share (the
   * board, the live stream) and other members' reads leave it out. */
  sourceIp: z.string().optional(),
  /** The length asked for, in seconds. */
  durationSeconds: z.number().int(),
  /** When it was asked for (for a waitlist entry: when it joined the queue, which orders it). */
  requestedAt: z.string(),
  /** The booked start of a scheduled session (also kept on a pending request for a later window). */
  startsAt: z.string().optional(),
  startedAt: z.string().optional(),
  expiresAt: z.string().optional(),
  endedAt: z.string().optional(),
  /** Until when an `offered` waitlist entry may be accepted before the offer passes to the next in line. */
  offerExpiresAt: z.string().optional(),
  /** Who ended it early (absent when it expired). */
  endedBy: z.object({ id: ZId, username: z.string() }).optional(),
});
export type TSession = z.infer<typeof ZSession>;

const ZDuration = z.number().int("must be a whole number of seconds").positive().max(366 * 24 * 3600, "at most a year");
const ZIp = z.union([z.ipv4(), z.ipv6()], { error: "must be an IPv4 or IPv6 address" });

export const ZStartSessionBody = z.strictObject({
  /** Defaults to the service's default duration. */
  durationSeconds: ZDuration.optional(),
  reason: ZText.trim().max(500).optional(),
  /** Defaults to the address the request came from. */
  sourceIp: ZIp.optional(),
  /**
   * Books the session for a later window instead of starting it now (ISO-8601 with offset, in
   * the future). It is `scheduled` (or `pending` first when the service requires approval, then
   * `scheduled` once approved) and starts by itself at this instant; on an exclusive service an
   * overlap with the holder or another booked window is a 409 now, at booking.
   */
  startsAt: ZTimestamp.optional(),
});
export type TStartSessionBody = z.infer<typeof ZStartSessionBody>;

export const ZExtendSessionBody = z.strictObject({
  /** Added to the current expiry. */
  durationSeconds: ZDuration,
});
export type TExtendSessionBody = z.infer<typeof ZExtendSessionBody>;

export const ZListSessionsQuery = z.strictObject({
  active: z.enum(["true", "false"]).optional(),
  serviceId: ZId.optional(),
  userId: ZId.optional(),
  mine: z.enum(["true", "false"]).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});
export type TListSessionsQuery = z.infer<typeof ZListSessionsQuery>;

/**
 * Joining an exclusive service's waitlist (`POST /api/services/:id/waitlist`). The entry waits
 * in order of joining; when the service frees up the first in line is `offered` it and has
 * `POSTERN_WAITLIST_OFFER_SECONDS` to accept (`POST /api/sessions/:id/accept`) before the offer
 * passes to the next. Leaving: `DELETE /api/services/:id/waitlist`. The queue:
 * `GET /api/services/:id/waitlist` (the offered entry first, then the waiting ones in order).
 */
export const ZJoinWaitlistBody = z.strictObject({
  /** The length wanted once offered; defaults to the service's default duration. */
  durationSeconds: ZDuration.optional(),
  reason: ZText.trim().max(500).optional(),
  /** Defaults to the address the request came from. */
  sourceIp: ZIp.optional(),
});
export type TJoinWaitlistBody = z.infer<typeof ZJoinWaitlistBody>;

/** Accepting an offer (`POST /api/sessions/:id/accept`): the clock starts at acceptance. */
export const ZAcceptOfferBody = z.strictObject({
  /** Overrides the length asked for when joining (e.g. shorter, to end before a booked window). */
  durationSeconds: ZDuration.optional(),
});
export type TAcceptOfferBody = z.infer<typeof ZAcceptOfferBody>;
