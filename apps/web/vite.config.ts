import { createRequire } from "node:module";
import path from "node:path";
import { defineConfig, type Alias } from "vite";
import react from "@vitejs/plugin-react";
import { precompress } from "./precompress";

const api = process.env.POSTERN_API_URL ?? "http://localhost:8080";

/**
 * react-router 7 resolves to its development build under every condition (remix-run/react-router
 * #12532, #14102): its dev warnings and checks would run in every browser. Its production build
 * ships beside it; builds take that one, the dev server keeps the warnings.
 */
function reactRouterProduction(): Alias[] {
  const fromDom = createRequire(createRequire(import.meta.url).resolve("react-router-dom"));
  const dev = path.dirname(fromDom.resolve("react-router"));
  const prod = path.join(path.dirname(dev), "production");
  return [
    { find: /^react-router$/, replacement: path.join(prod, "index.mjs") },
    { find: /^react-router\/dom$/, replacement: path.join(prod, "dom-export.mjs") },
  ];
}

export default defineConfig(({ command }) => ({
  plugins: [react(), precompress()],
  resolve: { alias: command === "build" ? reactRouterProduction() : [] },
  server: {
    proxy: {
      // The live stream is a websocket; it must be listed before the plain /api prefix. It keeps
      // the browser's Host, which the API matches (port included) against the page's Origin.
      "/api/live": { target: api, ws: true, changeOrigin: false },
      "/api": { target: api, changeOrigin: true },
      // Compatibility prefixes: anchored with a slash so the SPA's own /sessions page is not proxied.
      "^/(conn|session|service)/": { target: api, changeOrigin: true },
      "/healthz": { target: api, changeOrigin: true },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Written for whoever debugs a build, without a link from the bundles; the API never serves
    // them (plugins/web.ts), so production does not hand out the sources.
    sourcemap: "hidden",
    rollupOptions: {
      // zod's sources carry doc comments where Rollup expects pure annotations; harmless noise.
      onwarn(warning, warn) {
        if (warning.code === "INVALID_ANNOTATION") return;
        warn(warning);
      },
      output: {
        // The libraries in a chunk of their own: they change far less often than Postern's pages, so
        // a browser keeps them (served as immutable, plugins/web.ts) across most upgrades.
        manualChunks(id) {
          if (id.includes("/node_modules/")) return "vendor";
        },
      },
    },
  },
}));
