// What a start route does before its transaction, shared by `POST /api/services/:id/sessions` and
// the older tools' `POST /conn/req/:serviceId` (compat.routes.ts): a script on either path that
// retries a start it cannot have is answered from memory, not with a write transaction (on
// SQLite, a turn of its one writer) that can only roll back.
import type { FastifyInstance, FastifyReply, FastifyRequest, preParsingHookHandler } from "fastify";
import { ZId, type TStartSessionBody } from "@postern/contracts";
import { sessionCaller, viewerOf } from "../../lib/caller";
import { refuse, refuseOrContinue } from "../../lib/refuse";
import type { BoardView } from "../board/board.cache";
import { presentSession } from "./sessions.presenter";
import { startRefusalOnBoard, unseenServiceRefusal } from "./sessions.preflight";
import { sessionLimitsOf, startSession } from "./sessions.service";

/** The route validates the body with `ZOptionalStartBody` before the handler runs. */
type StartRequest = FastifyRequest & { body: TStartSessionBody };

/** The route's `preParsing` hook and handler, for a path whose parameter `param` names the service. */
export function startRoute(app: FastifyInstance, param: string) {
  const limits = sessionLimitsOf(app.config);
  const serviceIdOf = (request: FastifyRequest) => (request.params as Record<string, string>)[param]!;

  /** A start the board did not refuse: the transaction (which checks everything again). */
  const started = async (
    caller: ReturnType<typeof sessionCaller>,
    serviceId: string,
    body: TStartSessionBody,
    board: BoardView | undefined,
    reply: FastifyReply,
  ): Promise<void> => {
    const session = await startSession(app.ctx, caller, serviceId, body, limits, board);
    void reply.code(201).send(presentSession(session));
  };

  /**
   * The service in the path comes before the body: a start on a service the caller's board does
   * not show is answered before the body is read, parsed or validated (a stale script, someone
   * trying ids), whatever the body says. From memory when the answer is remembered; else after one
   * plain read (sessions.preflight.ts). An id that is not one at all is left to validation's 400.
   */
  const unseenFirst: preParsingHookHandler = (request, reply, _payload, done) => {
    const cls = app.board.classFor(request);
    const board = app.board.peek(cls);
    const serviceId = serviceIdOf(request);
    if (!board || board.byId.has(serviceId)) return done();
    if (!app.board.cache.isUnseen(cls, serviceId) && !ZId.safeParse(serviceId).success) return done();
    refuseOrContinue(reply, unseenServiceRefusal(app.ctx, app.board.cache, cls, viewerOf(request), serviceId), done);
  };

  // Not async: a start the board refuses (a double click, a script retrying, a service someone
  // else holds, a window past its maximum) is answered at once, without a promise for Fastify to
  // wait on.
  const handler = (request: StartRequest, reply: FastifyReply): Promise<void> | undefined => {
    const caller = sessionCaller(request);
    const board = app.board.peek(app.board.classFor(request));
    const serviceId = serviceIdOf(request);
    const refusal = board && startRefusalOnBoard(app.ctx, board, caller.viewer.user.id, serviceId, request.body, limits);
    if (refusal) {
      refuse(reply, refusal);
      return undefined;
    }
    return started(caller, serviceId, request.body, board, reply);
  };

  return { preParsing: unseenFirst, handler };
}
