// Serves the built SPA and answers unknown routes: index.html for page URLs the SPA routes
// itself, a JSON 404 for everything under /api and for non-GET requests.
import fs from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import fastifyStatic from "@fastify/static";
import type { TErrorBody } from "@postern/contracts";

export const defaultWebDir = path.resolve(import.meta.dirname, "../../../web/dist");

export default fp(
  async (app: FastifyInstance, opts: { webDir?: string }) => {
    const webDir = path.resolve(opts.webDir ?? defaultWebDir);
    const hasSpa = fs.existsSync(path.join(webDir, "index.html"));
    if (hasSpa) {
      // Source maps would hand out the SPA's sources (and paths of the build machine): never served.
      await app.register(fastifyStatic, {
        root: webDir,
        wildcard: false,
        index: ["index.html"],
        allowedPath: (pathName) => !pathName.endsWith(".map"),
      });
    } else {
      app.log.warn({ webDir }, "the web app is not built; run `pnpm --filter @postern/web build` to serve the UI");
    }
    app.setNotFoundHandler((request, reply) => {
      const pathname = request.url.split("?")[0] ?? "/";
      const isPage = request.method === "GET" && !pathname.startsWith("/api/") && !path.extname(pathname);
      if (hasSpa && isPage) return reply.type("text/html").sendFile("index.html");
      const body: TErrorBody = { error: { code: "not_found", message: `no route ${request.method} ${pathname}` } };
      return reply.code(404).send(body);
    });
  },
  { name: "web" },
);
