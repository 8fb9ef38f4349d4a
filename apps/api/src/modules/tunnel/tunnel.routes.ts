// The public tunnel at runtime: admins (or a token with scope tunnel:manage) read its state and
// open or close it. A tunnel that cannot open answers 503 with the reason; Postern keeps serving.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { ZTunnel } from "@postern/contracts";
import { AppError, forbidden } from "../../errors";
import { actorOf, requirePrincipal } from "../../plugins/auth";
import { TunnelNotConfiguredError, type TunnelCaller } from "./tunnel.manager";

/**
 * A login must be an admin's. A token needs tunnel:manage (checked by the auth plugin from the
 * route's scope); a personal token also needs its user to be an admin, so a scope never gives a
 * member more than their role.
 */
function tunnelCaller(request: FastifyRequest): TunnelCaller {
  const principal = requirePrincipal(request);
  if (principal.user && principal.user.role !== "admin") throw forbidden("managing the tunnel needs an admin");
  if (principal.scopes && !principal.scopes.includes("tunnel:manage")) throw forbidden("this API token lacks the scope tunnel:manage");
  return { actor: actorOf(principal), sourceIp: request.ip };
}

const routeConfig = { access: "user" as const, scope: "tunnel:manage" as const };

export default async function tunnelRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get("/api/tunnel", { config: routeConfig, schema: { response: { 200: ZTunnel } } }, async (request) => {
    tunnelCaller(request);
    return app.presentTunnel();
  });

  r.post("/api/tunnel/open", { config: routeConfig, schema: { response: { 200: ZTunnel } } }, async (request) => {
    const caller = tunnelCaller(request);
    try {
      await app.tunnel.open(caller);
    } catch (err) {
      if (err instanceof TunnelNotConfiguredError) throw new AppError("service_unavailable", err.message, { tunnel: app.presentTunnel() });
      throw err;
    }
    const tunnel = app.presentTunnel();
    if (tunnel.state !== "open") throw new AppError("service_unavailable", tunnel.reason ?? "the tunnel did not open", { tunnel });
    return tunnel;
  });

  r.post("/api/tunnel/close", { config: routeConfig, schema: { response: { 200: ZTunnel } } }, async (request) => {
    await app.tunnel.close(tunnelCaller(request));
    return app.presentTunnel();
  });
}
