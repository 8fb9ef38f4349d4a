// Decorates `app.metrics` (see metrics.ts), counts every answered request by route pattern and
// status, and serves them as Prometheus text on GET /metrics.
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { createMetrics, type PosternMetrics } from "./metrics";

declare module "fastify" {
  interface FastifyInstance {
    metrics: PosternMetrics;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    const metrics = createMetrics(app.ctx);
    app.decorate("metrics", metrics);

    app.addHook("onResponse", async (request, reply) => {
      // The route pattern, not the URL, keeps the label set small; unmatched paths share one label.
      const route = request.routeOptions.url ?? "unmatched";
      const method = request.method;
      metrics.httpRequests.inc({ method, route, status: String(reply.statusCode) });
      metrics.httpDuration.observe({ method, route }, reply.elapsedTime / 1000);
    });

    app.get("/metrics", { config: { access: "public" }, logLevel: "warn" }, async (_request, reply) => {
      const text = await metrics.render();
      return reply.type(metrics.registry.contentType).send(text);
    });
  },
  { name: "metrics", dependencies: ["database"] },
);
