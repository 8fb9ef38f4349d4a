// GET /api/live: the board's websocket. Authenticated like any API read (login cookie, or a
// token with sessions:read) during the HTTP upgrade, so a refused caller gets a plain 401/403.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { ZLiveQuery } from "@postern/contracts";
import { forbidden } from "../../errors";
import { requirePrincipal } from "../../plugins/auth";
import { TOO_MANY_CLOSE_CODE, type LiveCredential } from "./live.hub";

/** `host[:port]` as an origin of `protocol` would have it: lower case, without the scheme's default port. */
function hostOf(protocol: string, hostHeader: string | string[] | undefined): string | undefined {
  if (typeof hostHeader !== "string" || hostHeader === "") return undefined;
  try {
    return new URL(`${protocol}//${hostHeader}`).host;
  } catch {
    return undefined;
  }
}

/**
 * A browser sends its cookie with a websocket opened by any site; only our own pages may use it.
 * Ports count: a cookie is shared by every port of a host, so a page of another app on the same
 * box must not read the board with it. Our own pages are the address the request came to (Host,
 * or the proxy's X-Forwarded-Host) and POSTERN_PUBLIC_URL.
 */
function checkOrigin(app: FastifyInstance, request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (!origin) return;
  let from: URL;
  try {
    from = new URL(origin);
  } catch {
    throw forbidden("the Origin header is not a URL");
  }
  const allowed = [hostOf(from.protocol, request.headers.host), hostOf(from.protocol, request.headers["x-forwarded-host"])];
  if (app.config.publicUrl) {
    const publicUrl = new URL(app.config.publicUrl);
    if (publicUrl.protocol === from.protocol) allowed.push(publicUrl.host);
  }
  if (!allowed.includes(from.host)) {
    throw forbidden(
      `a page of another site (${from.origin}) may not open the live stream with your login; behind a proxy that changes the address, set POSTERN_PUBLIC_URL`,
    );
  }
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
