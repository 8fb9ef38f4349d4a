import type { FastifyInstance } from "fastify";
import { sendJson, sendKeptJson } from "../../lib/send-json";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ZExtendSessionBody, ZIdParams, ZListSessionsQuery, ZSession, ZStartSessionBody } from "@postern/contracts";
import { sessionCaller, viewerOf } from "../../lib/caller";
import { presentSession, sessionSeenBy } from "./sessions.presenter";
import { decideSession, DEFAULT_LIMIT, findSessions, sessionLimitsOf } from "./sessions.service";
import { endRoute, extendRoute } from "./sessions.change-routes";
import { decisionRefusalOnBoard } from "./sessions.preflight";
import { refuse } from "../../lib/refuse";
import { startRoute } from "./sessions.start-route";
import waitlistRoutes from "./waitlist.routes";
import { markLiveSeq } from "../live/live.seq";

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
        return app.board.withViewFor(request, reply, (board) => {
          if (board.sessions.length <= max) sendKeptJson(reply, board.sessionsBody);
          else sendJson(reply, JSON.stringify(board.shownSessions.slice(0, max)));
        });
      }
      markLiveSeq(app, reply);
      const viewer = viewerOf(request);
      return findSessions(app.ctx, viewer, request.query).then((rows) => rows.map((row) => sessionSeenBy(viewer, presentSession(row))));
    },
  );

  const start = startRoute(app, "id");
  r.post(
    "/api/services/:id/sessions",
    { preParsing: start.preParsing, schema: { params: ZIdParams, body: ZOptionalStartBody, response: { 201: ZSession } } },
    start.handler,
  );

  const extend = extendRoute(app, "id");
  r.post(
    "/api/sessions/:id/extend",
    { preParsing: extend.preParsing, schema: { params: ZIdParams, body: ZExtendSessionBody, response: { 200: ZSession } } },
    extend.handler,
  );

  r.delete("/api/sessions/:id", { schema: { params: ZIdParams, response: { 200: ZSession } } }, endRoute(app, "id"));

  for (const [verb, approve] of [["approve", true], ["deny", false]] as const) {
    r.post(
      `/api/sessions/:id/${verb}`,
      { config: { access: "admin" }, schema: { params: ZIdParams, response: { 200: ZSession } } },
      async (request, reply) => {
        // A decision already made (a second click, another admin first) is answered from memory.
        const view = app.board.peekFor(request);
        const refusal = view && decisionRefusalOnBoard(app.board.cache, view, request.params.id);
        if (refusal) return refuse(reply, refusal);
        return presentSession(await decideSession(app.ctx, sessionCaller(request), request.params.id, approve, limits));
      },
    );
  }

  await app.register(waitlistRoutes);
}
