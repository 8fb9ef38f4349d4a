// The live stream's position, sent with the board's reads so that a client that has just read the
// board resumes the stream from there (`?since=`) instead of taking a snapshot of the same board.
import { LIVE_SEQ_HEADER } from "@postern/contracts";
import type { FastifyInstance, FastifyReply } from "fastify";

/**
 * Marks a board read with the seq the live stream has delivered up to, taken before the read: the
 * board hears of every change before the stream does (the dispatcher runs its at-commit consumers
 * first), and a read from the database sees every commit, so the answer reflects at least this.
 */
export function markLiveSeq(app: FastifyInstance, reply: FastifyReply): void {
  void reply.header(LIVE_SEQ_HEADER, String(app.live.hub.lastSeq));
}
