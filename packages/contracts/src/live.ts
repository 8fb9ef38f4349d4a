// The live board stream (`GET /api/live[?since=<seq>]`, a websocket): what the server sends.
// A client gets one snapshot, then events in `seq` order; `since` resumes after a reconnect.
import { z } from "zod";
import { ZId } from "./common";
import { ZMessage } from "./messages";
import { ZService } from "./services";
import { ZSession } from "./sessions";
import { ZTunnel } from "./tunnel";
import { ZUser } from "./users";

/** Session verbs the stream announces; each carries the session as it is after the change. */
export const LIVE_SESSION_VERBS = [
  "started",
  "extended",
  "ended",
  "expired",
  "requested",
  "approved",
  "denied",
  "scheduled",
  "waitlisted",
  "left_waitlist",
  "offered",
  "offer_expired",
] as const;

const sessionEvent = <T extends string>(type: T) => z.object({ type: z.literal(type), session: ZSession });

export const ZLiveSessionEvent = z.discriminatedUnion("type", [
  sessionEvent("session.started"),
  sessionEvent("session.extended"),
  sessionEvent("session.ended"),
  sessionEvent("session.expired"),
  sessionEvent("session.requested"),
  sessionEvent("session.approved"),
  sessionEvent("session.denied"),
  sessionEvent("session.scheduled"),
  sessionEvent("session.waitlisted"),
  sessionEvent("session.left_waitlist"),
  sessionEvent("session.offered"),
  sessionEvent("session.offer_expired"),
]);
export type TLiveSessionEvent = z.infer<typeof ZLiveSessionEvent>;

const messageEvent = <T extends string>(type: T) => z.object({ type: z.literal(type), message: ZMessage });
const tunnelEvent = <T extends string>(type: T) => z.object({ type: z.literal(type), tunnel: ZTunnel });

/** One change, named `<resource>.<verb>`. A removal carries only the id. */
export const ZLiveEvent = z.discriminatedUnion("type", [
  ...ZLiveSessionEvent.options,
  /** Also sent when a service becomes visible to the client (its groups changed). */
  z.object({ type: z.literal("service.created"), service: ZService }),
  z.object({ type: z.literal("service.updated"), service: ZService }),
  /** Also sent when a service stops being visible to the client. */
  z.object({ type: z.literal("service.deleted"), id: ZId }),
  /** A user's role or groups changed (admins only). */
  z.object({ type: z.literal("user.updated"), user: ZUser }),
  /** Every open session of a disabled user has ended. */
  z.object({ type: z.literal("user.disabled"), userId: ZId }),
  /** Relay delivery progress (admins only). */
  messageEvent("message.queued"),
  messageEvent("message.retrying"),
  messageEvent("message.sent"),
  messageEvent("message.failed"),
  /** The public tunnel's state changed. */
  tunnelEvent("tunnel.opening"),
  tunnelEvent("tunnel.opened"),
  tunnelEvent("tunnel.closed"),
  tunnelEvent("tunnel.failed"),
]);
export type TLiveEvent = z.infer<typeof ZLiveEvent>;
export type TLiveEventType = TLiveEvent["type"];

/** The board as the client may see it, at `seq`. */
export const ZLiveSnapshotData = z.object({
  /** Visible services. */
  services: z.array(ZService),
  /** Open sessions (active, pending, scheduled, waiting, offered) on visible services. */
  sessions: z.array(ZSession),
  /** The connected user; absent for a service token. */
  me: ZUser.optional(),
});
export type TLiveSnapshotData = z.infer<typeof ZLiveSnapshotData>;

export const ZLiveServerMessage = z.discriminatedUnion("type", [
  /** Replaces the client's whole state; later events have a larger `seq`. May come again mid-stream
   * (e.g. after the user's groups changed). */
  z.object({ type: z.literal("snapshot"), seq: z.number().int().min(0), data: ZLiveSnapshotData }),
  z.object({ type: z.literal("event"), seq: z.number().int().min(1), event: ZLiveEvent }),
  /** Heartbeat: the connection is alive. */
  z.object({ type: z.literal("ping") }),
  /** The server drops this client; reconnect without `since` (or with it: a snapshot follows). */
  z.object({ type: z.literal("resync"), reason: z.string() }),
]);
export type TLiveServerMessage = z.infer<typeof ZLiveServerMessage>;

/** `GET /api/live` query. */
export const ZLiveQuery = z.strictObject({
  /** The last `seq` the client applied; the server replays what came after. */
  since: z.coerce.number().int().min(0).optional(),
});
export type TLiveQuery = z.infer<typeof ZLiveQuery>;
