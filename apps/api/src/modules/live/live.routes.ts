// GET /api/live: the board's websocket. Authenticated like any API read (login cookie, or a
// token with sessions:read) during the HTTP upgrade, so a refused caller gets a plain 401/403.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { ZLiveQuery } from "@postern/contracts";
import { forbidden } from "../../errors";
import { requirePrincipal } from "../../plugins/auth";
import { TOO_MANY_CLOSE_CODE, type LiveCredential } from "./live.hub";

const hostnameOf = (hostHeader: string | string[] | undefined): string | undefined =>
  typeof hostHeader === "string" ? hostHeader.replace(/:\d+$/, "").toLowerCase() : undefined;

/**
 * A browser sends its cookie with a websocket opened by any site; only our own pages may use it.
 * Host names are compared without ports, so the Vite dev server (another port, a proxy that
 * rewrites Host) still works, while a page of another site is refused.
 */
function checkOrigin(app: FastifyInstance, request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (!origin) return;
  let hostname: string;
  try {
    hostname = new URL(origin).hostname.toLowerCase();
  } catch {
    throw forbidden("the Origin header is not a URL");
  }
  const allowed = [hostnameOf(request.headers.host), hostnameOf(request.headers["x-forwarded-host"])];
  if (app.config.publicUrl) allowed.push(new URL(app.config.publicUrl).hostname.toLowerCase());
  if (!allowed.includes(hostname)) throw forbidden("a page of another site may not open the live stream with your login");
}

export default async function liveRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    "/api/live",
    {
      websocket: true,
      schema: { querystring: ZLiveQuery },
      preHandler: async (request) => {
        const principal = requirePrincipal(request);
        if (principal.via === "cookie") checkOrigin(app, request);
        if (!principal.user && !principal.scopes?.includes("admin")) {
          throw forbidden("a service token needs the admin scope to watch the board");
        }
      },
    },
    (socket, request) => {
      const principal = request.principal;
      const credential: LiveCredential | undefined = principal?.loginSessionId
        ? { kind: "login", id: principal.loginSessionId }
        : principal?.token
          ? { kind: "token", id: principal.token.id }
          : undefined;
      const watcher = { user: principal?.user ?? null, scopes: principal?.scopes ?? null, credential };
      // Counted per instance: each stream costs memory here, whatever the other instances hold.
      const max = app.config.maxLiveConnections;
      if (app.live.hub.connectionsOf(watcher) >= max) {
        socket.close(TOO_MANY_CLOSE_CODE, `too many live connections: at most ${max} per user or token (POSTERN_MAX_LIVE_CONNECTIONS)`);
        return;
      }
      void app.live.hub.connect(socket, watcher, request.query.since);
    },
  );
}
