// What the end and extend routes do before their transaction, shared by `DELETE /api/sessions/:id`,
// `POST /api/sessions/:id/extend` and the older tools' `POST /session/remove/:sessionId`
// (compat.routes.ts): a change the caller cannot make (someone else's session, one already
// ended, an extension past the maximum) is answered from memory or after one plain read, not
// with a write transaction that can only roll back (sessions.preflight.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest, preParsingHookHandler } from "fastify";
import { ZId, type TExtendSessionBody } from "@postern/contracts";
import { sessionCaller, viewerOf } from "../../lib/caller";
import { refuse, refuseOrContinue } from "../../lib/refuse";
import type { AppError } from "../../errors";
import type { BoardView } from "../board/board.cache";
import { presentSession, type SessionRow } from "./sessions.presenter";
import { extendRefusalOnBoard, sessionChangeRefusal, type SessionChange } from "./sessions.preflight";
import { endSession, extendSession, sessionLimitsOf } from "./sessions.service";
import type { Viewer } from "../services/services.visibility";

type Handler<B> = (request: FastifyRequest & { body: B }, reply: FastifyReply) => Promise<void> | undefined;

/** Answers `refusal`, or runs `change` and answers with the session it leaves; a promise only when one is needed. */
function refuseOr(reply: FastifyReply, refusal: AppError | null | Promise<AppError | null>, change: () => Promise<SessionRow>): Promise<void> | undefined {
  if (refusal instanceof Promise) return refusal.then((r) => (r ? void refuse(reply, r) : changed(reply, change)));
  if (refusal) {
    refuse(reply, refusal);
    return undefined;
  }
  return changed(reply, change);
}

async function changed(reply: FastifyReply, change: () => Promise<SessionRow>): Promise<void> {
  void reply.send(presentSession(await change()));
}

function sessionRoutes(app: FastifyInstance, param: string) {
  const idOf = (request: FastifyRequest) => (request.params as Record<string, string>)[param]!;
  /** The refusal the board (or one read) gives, when the caller's board is in memory. */
  const preflight = (request: FastifyRequest, view: BoardView | undefined, viewer: Viewer, change: SessionChange) =>
    view ? sessionChangeRefusal(app.ctx, app.board.cache, view, viewer, idOf(request), change) : null;
  return { idOf, preflight };
}

/** The end route's handler, for a path whose parameter `param` names the session. */
export function endRoute(app: FastifyInstance, param: string): Handler<unknown> {
  const { idOf, preflight } = sessionRoutes(app, param);
  return (request, reply) => {
    const view = app.board.peekFor(request);
    return refuseOr(reply, preflight(request, view, viewerOf(request), "end"), () => endSession(app.ctx, sessionCaller(request), idOf(request), view));
  };
}

/**
 * The extend route's `preParsing` hook and handler. Who may change the session, and whether it is
 * still open, come before the body: answered before the body is read, parsed or validated, as the
 * start route answers an unseen service. The handler refuses, from the board, an extension the
 * body makes too short or too long.
 */
export function extendRoute(app: FastifyInstance, param: string) {
  const { idOf, preflight } = sessionRoutes(app, param);
  const limits = sessionLimitsOf(app.config);

  const beforeBody: preParsingHookHandler = (request, reply, _payload, done) => {
    // The path is not validated yet: an id that is not one at all is left to validation's 400.
    if (!ZId.safeParse(idOf(request)).success) return done();
    refuseOrContinue(reply, preflight(request, app.board.peekFor(request), viewerOf(request), "extend"), done);
  };

  const handler: Handler<TExtendSessionBody> = (request, reply) => {
    const view = app.board.peekFor(request);
    const id = idOf(request);
    const { durationSeconds } = request.body;
    const refusal = view ? extendRefusalOnBoard(app.ctx, view, viewerOf(request), id, durationSeconds, limits) : null;
    return refuseOr(reply, refusal, () => extendSession(app.ctx, sessionCaller(request), id, durationSeconds, limits, view));
  };

  return { preParsing: beforeBody, handler };
}
