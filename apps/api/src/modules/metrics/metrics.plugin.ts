// Decorates `app.metrics` (see metrics.ts), counts every answered request by route pattern and
// status, and serves them as Prometheus text on GET /metrics.
import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { forbidden, unauthorized } from "../../errors";
import { isTunnelRequest } from "../tunnel/tunnel.ingress";
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

    // Callback style: it runs on every request, and an async hook costs a promise each time.
    app.addHook("onResponse", (request, reply, done) => {
      // The route pattern, not the URL, keeps the label set small; unmatched paths share one label.
      metrics.http.record(request.method, request.routeOptions.url ?? "unmatched", reply.statusCode, reply.elapsedTime / 1000);
      done();
    });

    const expected = app.config.metricsToken ? Buffer.from(`Bearer ${app.config.metricsToken}`) : undefined;
    app.get("/metrics", { config: { access: "public", ownBearer: true }, logLevel: "warn" }, async (request, reply) => {
      // The tunnel is the internet: without a token the metrics stay on the machine's own network.
      if (!expected && isTunnelRequest(request)) {
        throw forbidden("/metrics is not served through the public tunnel unless POSTERN_METRICS_TOKEN is set");
      }
      if (expected) {
        const given = Buffer.from(request.headers.authorization ?? "");
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
          void reply.header("www-authenticate", 'Bearer realm="metrics"');
          throw unauthorized("send Authorization: Bearer <POSTERN_METRICS_TOKEN> to read the metrics");
        }
      }
      const text = await metrics.render();
      return reply.type(metrics.registry.contentType).send(text);
    });
  },
  { name: "metrics", dependencies: ["database"] },
);
