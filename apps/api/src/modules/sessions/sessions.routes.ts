import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ZExtendSessionBody, ZIdParams, ZListSessionsQuery, ZSession, ZStartSessionBody } from "@postern/contracts";
import { sessionCaller } from "../../lib/caller";
import { requireUser } from "../../plugins/auth";
import { presentSession } from "./sessions.presenter";
import { decideSession, endSession, extendSession, findSessions, startSession, startVerb } from "./sessions.service";
import waitlistRoutes from "./waitlist.routes";

/** A start may come without a body (scripts, curl -X POST; Fastify then gives `null`): the service's defaults apply. */
export const ZOptionalStartBody = z.preprocess((body) => body ?? {}, ZStartSessionBody);

export default async function sessionsRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const limits = { minSessionSeconds: app.config.minSessionSeconds };

  r.get(
    "/api/sessions",
    { schema: { querystring: ZListSessionsQuery, response: { 200: z.array(ZSession) } } },
    async (request) => (await findSessions(app.ctx, requireUser(request).user, request.query)).map(presentSession),
  );

  r.post(
    "/api/services/:id/sessions",
    { schema: { params: ZIdParams, body: ZOptionalStartBody, response: { 201: ZSession } } },
    async (request, reply) => {
      const session = await startSession(app.ctx, sessionCaller(request), request.params.id, request.body, limits);
      app.changes.announce({ kind: "session", verb: startVerb(session), session });
      return reply.code(201).send(presentSession(session));
    },
  );

  r.post(
    "/api/sessions/:id/extend",
    { schema: { params: ZIdParams, body: ZExtendSessionBody, response: { 200: ZSession } } },
    async (request) => {
      const session = await extendSession(
        app.ctx,
        sessionCaller(request),
        request.params.id,
        request.body.durationSeconds,
        limits,
      );
      app.changes.announce({ kind: "session", verb: "extended", session });
      return presentSession(session);
    },
  );

  r.delete("/api/sessions/:id", { schema: { params: ZIdParams, response: { 200: ZSession } } }, async (request) => {
    const session = await endSession(app.ctx, sessionCaller(request), request.params.id);
    app.changes.announce({ kind: "session", verb: "ended", session });
    return presentSession(session);
  });

  for (const [verb, approve] of [["approve", true], ["deny", false]] as const) {
    r.post(`/api/sessions/:id/${verb}`, { schema: { params: ZIdParams, response: { 200: ZSession } } }, async (request) => {
      const session = await decideSession(app.ctx, sessionCaller(request), request.params.id, approve);
      app.changes.announce({ kind: "session", verb: approve ? "approved" : "denied", session });
      return presentSession(session);
    });
  }

  await app.register(waitlistRoutes);
}
