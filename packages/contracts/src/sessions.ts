import { z } from "zod";
import { ZId } from "./common";
import { ZUser } from "./users";

export const ZSessionStatus = z.enum(["pending", "scheduled", "active", "ended", "expired", "denied"]);
export type TSessionStatus = z.infer<typeof ZSessionStatus>;

/** An access session: one person holding one service for a limited time. */
export const ZSession = z.object({
  id: ZId,
  serviceId: ZId,
  userId: ZId,
  user: ZUser,
  status: ZSessionStatus,
  reason: z.string().optional(),
  /** The address the gateway admits for this session. */
  sourceIp: z.string().optional(),
  /** The length asked for, in seconds. */
  durationSeconds: z.number().int(),
  requestedAt: z.string(),
  startsAt: z.string().optional(),
  startedAt: z.string().optional(),
  expiresAt: z.string().optional(),
  endedAt: z.string().optional(),
  /** Who ended it early (absent when it expired). */
  endedBy: z.object({ id: ZId, username: z.string() }).optional(),
});
export type TSession = z.infer<typeof ZSession>;

const ZDuration = z.number().int("must be a whole number of seconds").positive();
const ZIp = z.union([z.ipv4(), z.ipv6()], { error: "must be an IPv4 or IPv6 address" });

export const ZStartSessionBody = z.strictObject({
  /** Defaults to the service's default duration. */
  durationSeconds: ZDuration.optional(),
  reason: z.string().trim().max(500).optional(),
  /** Defaults to the address the request came from. */
  sourceIp: ZIp.optional(),
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
