// The live stream's position (LIVE_SEQ_HEADER) in three places:
// - on the board's reads: where the stream stood, so that a client that has just read the board
//   resumes the stream from there (`?since=`) instead of taking a snapshot of the same board;
// - on the answer to a change: the seq of the change's last event;
// - on a board read, from the client: "a board at least this new". Behind a load balancer the
//   read after a change may reach an instance that has not yet heard of it (its notification is
//   a moment behind, under load more). Answered from that instance's memory, the board would
//   go back to before the change and stay there, the change's live event having come already.
//   The instance reads the log for it first.
import { LIVE_SEQ_HEADER } from "@postern/contracts";
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import { badField } from "../../errors";

/** How long a board read waits for a change it was told of before answering with what it has. */
export const CATCH_UP_MAX_MS = 2_000;

declare module "fastify" {
  interface FastifyRequest {
    /** The seq of the last event this request's changes committed; 0 if none. */
    changeSeq: number;
  }
}

/**
 * Marks a board read with the seq the live stream has delivered up to, taken before the read: the
 * board hears of every change before the stream does (the dispatcher runs its at-commit consumers
 * first), and a read from the database sees every commit, so the answer reflects at least this.
 */
export function markLiveSeq(app: FastifyInstance, reply: FastifyReply): void {
  void reply.header(LIVE_SEQ_HEADER, String(app.live.hub.lastSeq));
}

/** The seq a board read asks to reflect at least, when it names one this instance has yet to
 * reach; undefined otherwise (the common case, with no promise). */
export function seqToReach(app: FastifyInstance, request: FastifyRequest): number | undefined {
  const raw = request.headers[LIVE_SEQ_HEADER];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || !/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw badField(LIVE_SEQ_HEADER, "expected the seq of a change (a whole number), as a change's answer or the live stream gives it");
  }
  const seq = Number(raw);
  return app.changes.reached(seq) ? undefined : seq;
}

function sendChangeSeq(request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void): void {
  if (request.changeSeq > 0) void reply.header(LIVE_SEQ_HEADER, String(request.changeSeq));
  done(null, payload);
}

/** Every route that may change something answers with its change's seq (origins made with
 * `originOf` tell the request, lib/caller.ts). Reads are left without the hook. */
export function answerChangesWithSeq(app: FastifyInstance): void {
  app.decorateRequest("changeSeq", 0);
  app.addHook("onRoute", (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.every((m) => m === "GET" || m === "HEAD")) return;
    const own = route.onSend ? (Array.isArray(route.onSend) ? route.onSend : [route.onSend]) : [];
    route.onSend = [...own, sendChangeSeq] as RouteOptions["onSend"];
  });
}
