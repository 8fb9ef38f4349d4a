import type { FastifyInstance } from "fastify";
import type { TErrorBody } from "@postern/contracts";

export default async function healthRoutes(app: FastifyInstance) {
  /** The process is up. */
  app.get("/healthz", async () => ({ status: "ok" }));

  /** The process can serve: its database answers. */
  app.get("/readyz", async (request, reply) => {
    try {
      await app.ctx.db.$queryRawUnsafe("SELECT 1");
      return { status: "ready" };
    } catch (err) {
      request.log.warn({ err }, "database not reachable");
      const body: TErrorBody = { error: { code: "service_unavailable", message: "the database is not reachable" } };
      return reply.code(503).send(body);
    }
  });
}
