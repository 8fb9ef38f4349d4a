// Builds the Fastify instance, listens, and shuts down gracefully on SIGINT/SIGTERM.
import { randomBytes } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { migrateDatabase, openDatabase, redactUrl } from "@postern/db";
import serviceApp from "./app";
import { publicUrlOf, resolveSecret, type Config } from "./config";
import { bootstrapAdmin } from "./modules/auth/auth.service";

/** JSON bodies are small; the CSV import route raises its own limit. */
export const BODY_LIMIT = 64 * 1024;

export function trustProxyOf(config: Config): boolean | string | string[] {
  if (!config.trustProxy || config.trustProxy === "false") return false;
  if (config.trustProxy === "true") return true;
  return config.trustProxy.split(",").map((s) => s.trim());
}

export async function buildServer(config: Config, options: { logger?: boolean } = {}): Promise<FastifyInstance> {
  const database = await openDatabase(config.databaseUrl);
  const secret = resolveSecret(config, () => randomBytes(48).toString("base64url"));
  const app = Fastify({
    logger: options.logger === false ? false : { level: config.logLevel, redact: ["req.headers.authorization", "req.headers.cookie", 'req.headers["x-access-tokens"]'] },
    trustProxy: trustProxyOf(config),
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: "idle",
  });
  await app.register(fp(serviceApp), { config, database, secret });
  app.addHook("onClose", async () => database.close());
  return app;
}

export async function startServer(config: Config): Promise<FastifyInstance> {
  process.stdout.write(`Postern: applying database migrations (${redactUrl(config.databaseUrl)})\n`);
  await migrateDatabase(config.databaseUrl);
  const app = await buildServer(config);
  const admin = await bootstrapAdmin(app.ctx);
  await app.listen({ port: config.port, host: config.host });
  const url = publicUrlOf(config);
  if (admin) {
    process.stdout.write(
      `\n  First start: an admin account was created.\n` +
        `    open      ${url}\n` +
        `    username  ${admin.username}\n` +
        `    password  ${admin.password}\n` +
        `  This password is shown only once; change it under Admin → Users.\n\n`,
    );
  }
  app.log.info({ url }, "Postern is serving");

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, "error while shutting down");
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  return app;
}
