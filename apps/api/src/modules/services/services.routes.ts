import type { FastifyInstance } from "fastify";
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
import { adminCaller } from "../../lib/caller";
import { requireUser } from "../../plugins/auth";
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

  r.get("/api/services", { schema: { response: { 200: z.array(ZService) } } }, async (request) =>
    (await findServices(app.ctx, requireUser(request).user)).map(presentService),
  );

  r.get("/api/services/:id", { schema: { params: ZIdParams, response: { 200: ZService } } }, async (request) =>
    presentService(await findVisibleService(app.ctx, requireUser(request).user, request.params.id)),
  );

  r.post("/api/services", { config: { access: "admin" }, schema: { body: ZCreateServiceBody, response: { 201: ZService } } }, async (request, reply) => {
    const service = await createService(app.ctx, adminCaller(request), request.body);
    app.changes.announce({ kind: "service", verb: "created", serviceId: service.id });
    return reply.code(201).send(presentService(service));
  });

  r.patch(
    "/api/services/:id",
    { config: { access: "admin" }, schema: { params: ZIdParams, body: ZUpdateServiceBody, response: { 200: ZService } } },
    async (request) => {
      const service = await updateService(app.ctx, adminCaller(request), request.params.id, request.body);
      app.changes.announce({ kind: "service", verb: "updated", serviceId: service.id });
      return presentService(service);
    },
  );

  r.delete("/api/services/:id", { config: { access: "admin" }, schema: { params: ZIdParams } }, async (request, reply) => {
    await deleteService(app.ctx, adminCaller(request), request.params.id);
    app.changes.announce({ kind: "service", verb: "deleted", serviceId: request.params.id });
    return reply.code(204).send();
  });

  r.post(
    "/api/services/import",
    { config: { access: "admin" }, bodyLimit: 1024 * 1024, schema: { querystring: ZImportQuery, body: z.string(), response: { 200: ZImportResult } } },
    async (request) => {
      const q = request.query;
      const result = await importServicesCsv(app.ctx, adminCaller(request), request.body, {
        kind: q.kind,
        exclusive: q.exclusive === undefined ? undefined : q.exclusive === "true",
        maxDurationSeconds: q.maxSeconds,
        defaultDurationSeconds: q.defaultSeconds,
        groupIds: q.groupId === undefined ? undefined : [q.groupId].flat(),
      });
      for (const s of result.created) app.changes.announce({ kind: "service", verb: "created", serviceId: s.id });
      return result;
    },
  );
}
