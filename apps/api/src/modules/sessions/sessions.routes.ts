import type { FastifyInstance, FastifyReply, preParsingHookHandler } from "fastify";
import { sendJson } from "../../lib/send-json";
import { refuse } from "../../lib/refuse";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ZExtendSessionBody, ZId, ZIdParams, ZListSessionsQuery, ZSession, ZStartSessionBody, type TStartSessionBody } from "@postern/contracts";
import { sessionCaller, viewerOf } from "../../lib/caller";
import { presentSession } from "./sessions.presenter";
import { decideSession, DEFAULT_LIMIT, endSession, extendSession, findSessions, sessionLimitsOf, startSession } from "./sessions.service";
import waitlistRoutes from "./waitlist.routes";
import { ownClashOnBoard, unseenServiceRefusal } from "./sessions.preflight";
import type { BoardView } from "../board/board.cache";

/** A start may come without a body (scripts, curl -X POST; Fastify then gives `null`): the service's defaults apply. */
export const ZOptionalStartBody = z.preprocess((body) => body ?? {}, ZStartSessionBody);

export default async function sessionsRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const limits = sessionLimitsOf(app.config);

  r.get(
    "/api/sessions",
    { schema: { querystring: ZListSessionsQuery, response: { 200: z.array(ZSession) } } },
    (request, reply) => {
      const { active, limit, ...filters } = request.query;
      // The board's open sessions, as every member of the caller's class sees them (at once when
      // the board is in memory: no promise); other questions (ended sessions, one service, one
      // user) go to the database.
      if (active === "true" && Object.keys(filters).length === 0) {
        const max = limit ?? DEFAULT_LIMIT;
        return app.board.withViewFor(request, (board) => {
          sendJson(reply, board.sessions.length <= max ? board.sessionsBody : JSON.stringify(board.sessions.slice(0, max)));
        });
      }
      return findSessions(app.ctx, viewerOf(request), request.query).then((rows) => rows.map(presentSession));
    },
  );

  /** A start the board did not refuse: the transaction (which checks everything again). */
  const started = async (caller: ReturnType<typeof sessionCaller>, serviceId: string, body: TStartSessionBody, board: BoardView | undefined, reply: FastifyReply): Promise<void> => {
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
    const serviceId = (request.params as { id: string }).id;
    if (!board || board.byId.has(serviceId)) return done();
    if (!app.board.cache.isUnseen(cls, serviceId) && !ZId.safeParse(serviceId).success) return done();
    const unseen = unseenServiceRefusal(app.ctx, app.board.cache, cls, viewerOf(request), serviceId);
    if (!(unseen instanceof Promise)) return void refuse(reply, unseen);
    unseen.then((refusal) => (refusal ? void refuse(reply, refusal) : done()), (err: unknown) => done(err as Error));
  };
  r.post(
    "/api/services/:id/sessions",
    { preParsing: unseenFirst, schema: { params: ZIdParams, body: ZOptionalStartBody, response: { 201: ZSession } } },
    // Not async: a start the board refuses (a double click, a script retrying) is answered at
    // once, without a promise for Fastify to wait on.
    (request, reply) => {
      const caller = sessionCaller(request);
      const board = app.board.peek(app.board.classFor(request));
      const serviceId = request.params.id;
      const clash = board && ownClashOnBoard(app.ctx, board, caller.viewer.user.id, serviceId, request.body, limits);
      if (clash) {
        refuse(reply, clash);
        return;
      }
      return started(caller, serviceId, request.body, board, reply);
    },
  );

  r.post(
    "/api/sessions/:id/extend",
    { schema: { params: ZIdParams, body: ZExtendSessionBody, response: { 200: ZSession } } },
    async (request) =>
      presentSession(
        await extendSession(app.ctx, sessionCaller(request), request.params.id, request.body.durationSeconds, limits, app.board.peekFor(request)),
      ),
  );

  r.delete("/api/sessions/:id", { schema: { params: ZIdParams, response: { 200: ZSession } } }, async (request) =>
    presentSession(await endSession(app.ctx, sessionCaller(request), request.params.id, app.board.peekFor(request))),
  );

  for (const [verb, approve] of [["approve", true], ["deny", false]] as const) {
    r.post(
      `/api/sessions/:id/${verb}`,
      { config: { access: "admin" }, schema: { params: ZIdParams, response: { 200: ZSession } } },
      async (request) => presentSession(await decideSession(app.ctx, sessionCaller(request), request.params.id, approve, limits)),
    );
  }

  await app.register(waitlistRoutes);
}
