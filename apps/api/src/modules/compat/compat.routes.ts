// Routes with the paths and verbs of the older tools this board replaces, so existing scripts
// keep working. They share the service functions (and audit events) of the v1 routes.
import type { FastifyInstance } from "fastify";
import { sendKeptJson } from "../../lib/send-json";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ZService, ZSession, ZId, ZUser } from "@postern/contracts";
import { requirePrincipal } from "../../plugins/auth";
import { sendServiceFromBoard } from "../services/services.routes";
import { endRoute } from "../sessions/sessions.change-routes";
import { startRoute } from "../sessions/sessions.start-route";
import { ZOptionalStartBody } from "../sessions/sessions.routes";
import { presentUser } from "../users/users.presenter";

export default async function compatRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get(
    "/api/test",
    // Monitors call this to check their token, whatever its scopes; a service token has no user.
    { config: { scope: "any" }, schema: { response: { 200: z.object({ valid: z.literal(true), user: ZUser.optional(), scopes: z.array(z.string()).optional() }) } } },
    async (request) => {
      const principal = requirePrincipal(request);
      return {
        valid: true as const,
        user: principal.user ? presentUser(principal.user) : undefined,
        scopes: principal.scopes ?? undefined,
      };
    },
  );

  // The v1 start's checks before its transaction, answers and audit: one route, two paths.
  const start = startRoute(app, "serviceId");
  r.post(
    "/conn/req/:serviceId",
    { preParsing: start.preParsing, schema: { params: z.object({ serviceId: ZId }), body: ZOptionalStartBody, response: { 201: ZSession } } },
    start.handler,
  );

  r.post(
    "/session/remove/:sessionId",
    { schema: { params: z.object({ sessionId: ZId }), response: { 200: ZSession } } },
    endRoute(app, "sessionId"),
  );

  r.get("/service/", { schema: { response: { 200: z.array(ZService) } } }, (request, reply) =>
    app.board.withViewFor(request, reply, (view) => void sendKeptJson(reply, view.servicesBody)),
  );

  r.get("/service/:serviceId", { schema: { params: z.object({ serviceId: ZId }), response: { 200: ZService } } }, (request, reply) =>
    sendServiceFromBoard(app, request, reply, request.params.serviceId),
  );
}
