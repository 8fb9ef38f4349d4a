import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  ZCreateServiceBody,
  ZId,
  ZIdParams,
  ZImportResult,
  ZService,
  ZServiceKind,
  ZUpdateServiceBody,
} from "@postern/contracts";
import { originOf, viewerOf } from "../../lib/caller";
import { presentService } from "./services.presenter";
import { createService, deleteService, findServices, findVisibleService, updateService } from "./services.service";
import { importServicesCsv } from "./services.import";

const ZImportQuery = z.strictObject({
  kind: ZServiceKind.optional(),
  exclusive: z.enum(["true", "false"]).optional(),
  maxSeconds: z.coerce.number().int().positive().optional(),
  defaultSeconds: z.coerce.number().int().positive().optional(),
  groupId: z.union([ZId, z.array(ZId)]).optional(),
});

export default async function servicesRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  app.addContentTypeParser("text/csv", { parseAs: "string", bodyLimit: 1024 * 1024 }, (_req, body, done) =>
    done(null, body),
  );

  /** Admins see gateway errors; members only whether the doors are in sync. */
  const viewFor = (request: FastifyRequest) => ({ detail: viewerOf(request).admin, now: app.ctx.now() });
  const adminView = () => ({ detail: true, now: app.ctx.now() });

  r.get("/api/services", { schema: { response: { 200: z.array(ZService) } } }, async (request) => {
    const view = viewFor(request);
    return (await findServices(app.ctx, viewerOf(request))).map((s) => presentService(s, view));
  });

  r.get("/api/services/:id", { schema: { params: ZIdParams, response: { 200: ZService } } }, async (request) =>
    presentService(await findVisibleService(app.ctx, viewerOf(request), request.params.id), viewFor(request)),
  );

  r.post("/api/services", { config: { access: "admin" }, schema: { body: ZCreateServiceBody, response: { 201: ZService } } }, async (request, reply) => {
    const service = await createService(app.ctx, originOf(request), request.body);
    return reply.code(201).send(presentService(service, adminView()));
  });

  r.patch(
    "/api/services/:id",
    { config: { access: "admin" }, schema: { params: ZIdParams, body: ZUpdateServiceBody, response: { 200: ZService } } },
    async (request) =>
      presentService(await updateService(app.ctx, originOf(request), request.params.id, request.body), adminView()),
  );

  r.delete("/api/services/:id", { config: { access: "admin" }, schema: { params: ZIdParams } }, async (request, reply) => {
    await deleteService(app.ctx, originOf(request), request.params.id);
    return reply.code(204).send();
  });

  r.post(
    "/api/services/import",
    { config: { access: "admin" }, bodyLimit: 1024 * 1024, schema: { querystring: ZImportQuery, body: z.string(), response: { 200: ZImportResult } } },
    async (request) => {
      const q = request.query;
      return importServicesCsv(app.ctx, originOf(request), request.body, {
        kind: q.kind,
        exclusive: q.exclusive === undefined ? undefined : q.exclusive === "true",
        maxDurationSeconds: q.maxSeconds,
        defaultDurationSeconds: q.defaultSeconds,
        groupIds: q.groupId === undefined ? undefined : [q.groupId].flat(),
      });
    },
  );
}
