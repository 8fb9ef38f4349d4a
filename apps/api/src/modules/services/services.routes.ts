import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { sendJson, sendKeptJson } from "../../lib/send-json";
import { refuse } from "../../lib/refuse";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  ZCreateServiceBody,
  ZId,
  ZText,
  ZIdParams,
  ZImportResult,
  ZService,
  ZServiceKind,
  ZUpdateServiceBody,
} from "@postern/contracts";
import { notFound } from "../../errors";
import type { BoardView } from "../board/board.cache";
import { originOf } from "../../lib/caller";
import { presentService } from "./services.presenter";
import { createService, deleteService, updateService } from "./services.service";
import { lineRulesOf } from "../sessions/waitlist.service";
import { importServicesCsv } from "./services.import";
import { utf8TextParser } from "../../plugins/utf8-body";

const ZImportQuery = z.strictObject({
  kind: ZServiceKind.optional(),
  exclusive: z.enum(["true", "false"]).optional(),
  maxSeconds: z.coerce.number().int().positive().max(366 * 24 * 3600).optional(),
  defaultSeconds: z.coerce.number().int().positive().max(366 * 24 * 3600).optional(),
  groupId: z.union([ZId, z.array(ZId)]).optional(),
});

/**
 * One service as the caller's board shows it, serialised once for everyone who sees the same; a
 * hidden service is indistinguishable from none. Also the older tools' `GET /service/:serviceId`
 * (compat.routes.ts). withViewFor, not peekFor: a board that shows gateway statuses is read again
 * once it is old.
 */
export function sendServiceFromBoard(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, id: string): void | Promise<void> {
  return sendOfServiceOnBoard(app, request, reply, id, (view) => view.serviceBody(id)!);
}

const SERVICE_NOT_FOUND = notFound("service");

/** What `bodyOf` makes of the caller's board (JSON) when it shows service `id`; else the 404 a
 * missing or hidden service gets alike. The service's own read, and its waitlist's. */
export function sendOfServiceOnBoard(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  id: string,
  bodyOf: (view: BoardView) => string | Buffer,
): void | Promise<void> {
  return app.board.withViewFor(request, reply, (view) => {
    if (!view.byId.has(id)) refuse(reply, SERVICE_NOT_FOUND);
    else sendJson(reply, bodyOf(view));
  });
}

export default async function servicesRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  app.addContentTypeParser("text/csv", { parseAs: "buffer", bodyLimit: 1024 * 1024 }, utf8TextParser("CSV"));

  const adminView = () => ({ detail: true, now: app.ctx.now() });

  // Reads come from the caller's board, presented and serialised once for everyone who sees the same.
  // Not async: a board in memory is sent at once, with no promise for Fastify to wait on.
  r.get("/api/services", { schema: { response: { 200: z.array(ZService) } } }, (request, reply) => {
    return app.board.withViewFor(request, reply, (view) => void sendKeptJson(reply, view.servicesBody));
  });

  r.get("/api/services/:id", { schema: { params: ZIdParams, response: { 200: ZService } } }, (request, reply) =>
    sendServiceFromBoard(app, request, reply, request.params.id),
  );

  r.post("/api/services", { config: { access: "admin" }, schema: { body: ZCreateServiceBody, response: { 201: ZService } } }, async (request, reply) => {
    const service = await createService(app.ctx, originOf(request), request.body, app.config.minSessionSeconds);
    return reply.code(201).send(presentService(service, adminView()));
  });

  r.patch(
    "/api/services/:id",
    { config: { access: "admin" }, schema: { params: ZIdParams, body: ZUpdateServiceBody, response: { 200: ZService } } },
    async (request) =>
      presentService(await updateService(app.ctx, originOf(request), request.params.id, request.body, lineRulesOf(app.config)), adminView()),
  );

  r.delete("/api/services/:id", { config: { access: "admin" }, schema: { params: ZIdParams } }, async (request, reply) => {
    await deleteService(app.ctx, originOf(request), request.params.id);
    return reply.code(204).send();
  });

  r.post(
    "/api/services/import",
    { config: { access: "admin" }, bodyLimit: 1024 * 1024, schema: { querystring: ZImportQuery, body: ZText, response: { 200: ZImportResult } } },
    async (request) => {
      const q = request.query;
      return importServicesCsv(app.ctx, originOf(request), request.body, app.config.minSessionSeconds, {
        kind: q.kind,
        exclusive: q.exclusive === undefined ? undefined : q.exclusive === "true",
        maxDurationSeconds: q.maxSeconds,
        defaultDurationSeconds: q.defaultSeconds,
        groupIds: q.groupId === undefined ? undefined : [q.groupId].flat(),
      });
    },
  );
}
