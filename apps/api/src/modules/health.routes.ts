// Probes for load balancers and orchestrators. Both stay quiet in the logs (warn level): they
// are called every few seconds.
import type { FastifyInstance } from "fastify";
import type { TErrorBody } from "@postern/contracts";

/** A database that does not answer within this is as good as down for a readiness probe. */
export const READY_QUERY_TIMEOUT_MS = 2_000;

export default async function healthRoutes(app: FastifyInstance) {
  /** The process is up. */
  app.get("/healthz", { logLevel: "warn" }, async () => ({ status: "ok" }));

  /** The process can serve: its database answers, quickly. */
  app.get("/readyz", { logLevel: "warn" }, async (request, reply) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        app.ctx.db.$queryRawUnsafe("SELECT 1"),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${READY_QUERY_TIMEOUT_MS} ms`)), READY_QUERY_TIMEOUT_MS);
        }),
      ]);
      return { status: "ready" };
    } catch (err) {
      // An outage is logged once by the health tracker; a slow answer is worth a line of its own.
      if (!app.dbHealth.noticed(err)) request.log.warn(`database not ready: ${err instanceof Error ? err.message : String(err)}`);
      const body: TErrorBody = { error: { code: "service_unavailable", message: "the database is not reachable" } };
      return reply.code(503).send(body);
    } finally {
      clearTimeout(timer);
    }
  });
}
