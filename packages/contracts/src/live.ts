// The live board stream (`GET /api/live[?since=<seq>]`, a websocket): what the server sends.
// A client gets one snapshot, then events in `seq` order; `since` resumes after a reconnect.
import { z } from "zod";
import { MAX_INT32 } from "./common";
import { ZDomainEvent, type TDomainEvent } from "./events";
import { ZService } from "./services";
import { ZSession } from "./sessions";
import { ZUser } from "./users";

/**
 * One change, named `<resource>.<verb>`: the domain events themselves (see events.ts), each sent
 * to the clients allowed to see it. A removal carries only the id.
 */
export const ZLiveEvent = ZDomainEvent;
export type TLiveEvent = TDomainEvent;
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

/**
 * Sent with the board's reads (`GET /api/services`, `GET /api/sessions`): the live stream's seq when
 * the read began. What the read answers reflects at least every event up to it, so a client that has
 * just read the board opens `/api/live?since=<this>` and gets the events after it, not the whole
 * board again as a snapshot.
 */
export const LIVE_SEQ_HEADER = "x-postern-live-seq";

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
  since: z.coerce.number().int().min(0).max(MAX_INT32).optional(),
});
export type TLiveQuery = z.infer<typeof ZLiveQuery>;
