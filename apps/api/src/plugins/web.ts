// Serves the built SPA and answers unknown routes: index.html for page URLs the SPA routes
// itself, a JSON 404 for everything under /api and for non-GET requests. The SPA's files go out
// compressed and, where their names change with their content, cached for good.
import fs from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import fastifyStatic from "@fastify/static";
import type { TErrorBody } from "@postern/contracts";

const IMMUTABLE = "public, max-age=31536000, immutable";

export const defaultWebDir = path.resolve(import.meta.dirname, "../../../web/dist");

export default fp(
  async (app: FastifyInstance, opts: { webDir?: string }) => {
    const webDir = path.resolve(opts.webDir ?? defaultWebDir);
    const hasSpa = fs.existsSync(path.join(webDir, "index.html"));
    if (hasSpa) {
      const assetsDir = path.join(webDir, "assets") + path.sep;
      await app.register(fastifyStatic, {
        root: webDir,
        wildcard: false,
        index: ["index.html"],
        // The build writes a .br and a .gz beside each text file (apps/web/precompress.ts): the
        // browser gets the smallest it accepts, compressed once at build time, not per request.
        preCompressed: true,
        // Set per file below: send's own header would override it.
        cacheControl: false,
        // Source maps would hand out the SPA's sources (and paths of the build machine): never
        // served. Nor the compressed copies by their own names: they are the files' encodings.
        allowedPath: (pathName) => !/\.(?:map|br|gz)$/.test(pathName),
        setHeaders: (res, filePath) => {
          res.setHeader("vary", "Accept-Encoding");
          // Vite names everything under assets/ by its content: a new build gets new names, so a
          // browser may keep these for good and ask for nothing on the next visit. Everything else
          // (index.html above all, which names the assets) is checked at each visit.
          res.setHeader("cache-control", filePath.startsWith(assetsDir) ? IMMUTABLE : "no-cache");
        },
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
