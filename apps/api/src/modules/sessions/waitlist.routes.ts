// Waitlist routes: join / leave / read the line of an exclusive service, and accept an offer.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ZAcceptOfferBody, ZIdParams, ZJoinWaitlistBody, ZSession } from "@postern/contracts";
import { sessionCaller } from "../../lib/caller";
import { presentSession } from "./sessions.presenter";
import { sendOfServiceOnBoard } from "../services/services.routes";
import { acceptOffer, joinWaitlist, leaveWaitlist, lineOnBoard } from "./waitlist.service";
import { sessionLimitsOf } from "./sessions.service";

// Bodies are optional: a bare POST (no content, so Fastify's body is null) takes the defaults.
export default async function waitlistRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const limits = sessionLimitsOf(app.config);

  // From the caller's board, which holds every open session on the services they see, the line's
  // included: no database round trip, as for the service itself (GET /api/services/:id).
  r.get("/api/services/:id/waitlist", { schema: { params: ZIdParams, response: { 200: z.array(ZSession) } } }, (request, reply) =>
    sendOfServiceOnBoard(app, request, reply, request.params.id, (view) => JSON.stringify(lineOnBoard(view, request.params.id).map((s) => view.shown(s)))),
  );

  r.post(
    "/api/services/:id/waitlist",
    { schema: { params: ZIdParams, body: ZJoinWaitlistBody.nullable().default({}), response: { 201: ZSession } } },
    async (request, reply) => {
      const session = await joinWaitlist(app.ctx, sessionCaller(request), request.params.id, request.body ?? {}, limits);
      return reply.code(201).send(presentSession(session));
    },
  );

  r.delete("/api/services/:id/waitlist", { schema: { params: ZIdParams, response: { 200: ZSession } } }, async (request) =>
    presentSession(await leaveWaitlist(app.ctx, sessionCaller(request), request.params.id)),
  );

  r.post(
    "/api/sessions/:id/accept",
    { schema: { params: ZIdParams, body: ZAcceptOfferBody.nullable().default({}), response: { 200: ZSession } } },
    async (request) => presentSession(await acceptOffer(app.ctx, sessionCaller(request), request.params.id, request.body ?? {}, limits)),
  );
}
