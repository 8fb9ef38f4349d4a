// Security headers from helmet, worked out once at start-up. @fastify/helmet builds helmet's
// middleware anew on every request (re-parsing the CSP each time), which cost more than the
// rest of an authenticated read; our headers never vary per request (no CSP nonces), so we
// run helmet once against a recording response and replay its headers.
//
// Documents (the SPA, the API docs page) get helmet's full set. JSON answers get the short set
// the OWASP REST Security Cheat Sheet asks of an API: they are never rendered, so a page CSP,
// frame and download options say nothing there — 650 bytes on every answer, which the clients
// that poll us most (monitors, scripts) parse for nothing.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { isApiPath } from "../lib/api-paths";
import helmet, { type HelmetOptions } from "helmet";

/** The headers helmet would set, and the ones it would remove, for these options. */
export function helmetHeaders(options: HelmetOptions): { set: Record<string, string>; remove: string[] } {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      set[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value);
    },
    removeHeader(name: string) {
      delete set[name.toLowerCase()];
      remove.push(name.toLowerCase());
    },
    getHeader: (name: string) => set[name.toLowerCase()],
  } as unknown as ServerResponse;
  let failure: unknown;
  helmet(options)({ headers: {} } as IncomingMessage, recorder, (err?: unknown) => {
    failure = err;
  });
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  return { set, remove };
}

/** What every JSON answer carries. */
export const API_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "cross-origin-resource-policy": "same-origin",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/** Paths that answer JSON (or CSV) only; everything else may be a document. */
const isApi = (url: string) => isApiPath(url) && !url.startsWith("/api/docs");

export default fp(
  async (app: FastifyInstance, options: HelmetOptions) => {
    const { set, remove } = helmetHeaders(options);
    // HSTS belongs on every https answer, and is ignored by browsers on http ones.
    const api = { ...API_HEADERS, ...(set["strict-transport-security"] ? { "strict-transport-security": set["strict-transport-security"] } : {}) };
    app.addHook("onRequest", (request, reply, done) => {
      if (isApi(request.url)) {
        void reply.headers(api);
      } else {
        void reply.headers(set);
        for (const name of remove) void reply.removeHeader(name);
      }
      done();
    });
  },
  { name: "security-headers" },
);
