// Postern's API as a Fastify plugin. It never listens: server.ts (and the tests) build a Fastify
// instance, register this and decide what to do with it. Plugins load in a fixed order:
// external, then ours, then routes.
import type { FastifyInstance } from "fastify";
import cookie from "@fastify/cookie";
import rateLimit from "@fastify/rate-limit";
import { useTunnelClientAddress } from "./modules/tunnel/tunnel.ingress";
import websocket from "@fastify/websocket";
import { serializerCompiler } from "fastify-type-provider-zod";
import type { OpenDatabase } from "@postern/db";
import type { Config } from "./config";
import { limitKeyOf } from "./lib/client-key";
import errorHandler from "./plugins/error-handler";
import utf8Body from "./plugins/utf8-body";
import securityHeaders from "./plugins/security-headers";
import database from "./plugins/database";
import databaseHealth from "./plugins/database-health";
import auth from "./plugins/auth";
import board from "./modules/board/board.plugin";
import changes from "./plugins/changes";
import sessionClock from "./plugins/session-clock";
import web from "./plugins/web";
import openapi from "./plugins/openapi";
import healthRoutes from "./modules/health.routes";
import authRoutes from "./modules/auth/auth.routes";
import oidc from "./modules/auth/oidc.plugin";
import oidcRoutes from "./modules/auth/oidc.routes";
import tokensRoutes from "./modules/tokens/tokens.routes";
import usersRoutes from "./modules/users/users.routes";
import servicesRoutes from "./modules/services/services.routes";
import sessionsRoutes from "./modules/sessions/sessions.routes";
import compatRoutes from "./modules/compat/compat.routes";
import auditFiles from "./modules/audit/audit-files.plugin";
import auditRoutes from "./modules/audit/audit.routes";
import relay from "./modules/relay/relay.plugin";
import relayRoutes from "./modules/relay/relay.routes";
import gatewayRoutes from "./modules/gateway/gateway.routes";
import metrics from "./modules/metrics/metrics.plugin";
import tunnel from "./modules/tunnel/tunnel.plugin";
import tunnelRoutes from "./modules/tunnel/tunnel.routes";
import live from "./modules/live/live.plugin";
import liveRoutes from "./modules/live/live.routes";
import { validatorCompiler } from "./lib/validator";

export interface AppOptions {
  config: Config;
  database: OpenDatabase;
  secret: string;
  now?: () => Date;
}

export default async function serviceApp(app: FastifyInstance, opts: AppOptions) {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // First, so every later hook (rate limits, auth, the password throttle) sees the real client.
  app.addHook("onRequest", useTunnelClientAddress);

  await app.register(securityHeaders, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        connectSrc: ["'self'", "ws:", "wss:"],
        imgSrc: ["'self'", "data:"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        upgradeInsecureRequests: null,
      },
    },
  });
  await app.register(cookie);
  // Routes opt in with their own config.rateLimit, which inherits this key: an IPv6 client is
  // counted by its /64, not by each of the addresses it may send from.
  await app.register(rateLimit, { global: false, keyGenerator: (request) => limitKeyOf(request.ip) });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  await app.register(errorHandler);
  await app.register(utf8Body);
  await app.register(database, { config: opts.config, database: opts.database, now: opts.now });
  await app.register(databaseHealth);
  await app.register(changes);
  await app.register(auth, {
    secret: opts.secret,
    secureCookies: (opts.config.publicUrl ?? "").startsWith("https://"),
  });
  await app.register(board);
  // Before any plugin that adds routes: it documents each route as it is registered.
  await app.register(openapi);
  await app.register(metrics);
  await app.register(live);
  await app.register(tunnel);
  await app.register(sessionClock);
  await app.register(auditFiles);
  await app.register(relay);
  await app.register(oidc);

  await app.register(healthRoutes);
  await app.register(authRoutes);
  await app.register(oidcRoutes);
  await app.register(tokensRoutes);
  await app.register(usersRoutes);
  await app.register(servicesRoutes);
  await app.register(sessionsRoutes);
  await app.register(compatRoutes);
  await app.register(auditRoutes);
  await app.register(relayRoutes);
  await app.register(gatewayRoutes);
  await app.register(tunnelRoutes);
  await app.register(liveRoutes);
  await app.register(web, { webDir: opts.config.webDir });
}
