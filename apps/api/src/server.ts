// Builds the Fastify instance, listens, and shuts down gracefully on SIGINT/SIGTERM.
import { randomBytes } from "node:crypto";
import path from "node:path";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { TErrorBody } from "@postern/contracts";
import { openDatabase, redactUrl, sqliteFileOf, type OpenDatabase } from "@postern/db";
import { openMigratedDatabase } from "./migrations";
import { createLogger, recordErrorCodes, RequestLogController } from "./logger";
import { lazyChildLoggerFactory } from "./lib/lazy-request-logger";
import serviceApp from "./app";
import { frameworkErrors } from "./plugins/error-handler";
import { publicUrlOf, resolveSecret, type Config } from "./config";
import { bootstrapAdmin } from "./modules/auth/auth.service";
import { writeProblem } from "./lib/writable-dir";
import { closedWithin } from "./lib/websocket-closed";

/** The directories the server writes to, checked up front: a read-only or foreign one would
 * otherwise surface as an opaque SQLite or migration error. */
export function checkWritableDirs(config: Config): void {
  const dirs = new Set<string>();
  if (!config.secret) dirs.add(config.dataDir);
  if (config.databaseUrl.startsWith("file:")) dirs.add(path.dirname(sqliteFileOf(config.databaseUrl)));
  for (const dir of dirs) {
    const problem = writeProblem(dir);
    if (problem) throw new Error(problem);
  }
}

/** JSON bodies are small; the CSV import route raises its own limit. */
export const BODY_LIMIT = 64 * 1024;

export function trustProxyOf(config: Config): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (!config.trustProxy || config.trustProxy === "false") return false;
  if (config.trustProxy === "true") return true;
  // A hop count: trust that many proxies in front of Postern, whatever their addresses.
  if (/^\d+$/.test(config.trustProxy)) {
    const hops = Number(config.trustProxy);
    return (_address, hop) => hop < hops;
  }
  return config.trustProxy.split(",").map((s) => s.trim());
}

export { REDACT_PATHS } from "./logger";

/** The whole shutdown must fit in this (orchestrators send SIGKILL after 10 s). */
export const SHUTDOWN_DEADLINE_MS = 9_500;
/** How long websocket clients get to answer the close frame before they are cut. */
const WEBSOCKET_DRAIN_MS = 2_000;

/**
 * Closes every websocket with 1012 ("service restart") so clients reconnect, to another
 * instance or to this one when it is back, and cuts those that do not answer in time.
 */
export async function drainWebsockets(app: FastifyInstance, timeoutMs = WEBSOCKET_DRAIN_MS): Promise<void> {
  const clients = [...(app.websocketServer?.clients ?? [])];
  if (clients.length === 0) return;
  app.log.info({ clients: clients.length }, "closing websockets with 1012 (service restart)");
  await Promise.all(
    clients.map((ws) => {
      const closed = closedWithin(ws, timeoutMs);
      ws.close(1012, "service restart");
      return closed;
    }),
  );
}

export async function buildServer(
  config: Config,
  options: { logger?: false | FastifyBaseLogger; database?: OpenDatabase } = {},
): Promise<FastifyInstance> {
  const database = options.database ?? (await openDatabase(config.databaseUrl));
  if (database.provider === "sqlite" && config.sqliteSync === "full") await database.db.$queryRawUnsafe("PRAGMA synchronous = FULL");
  const secret = resolveSecret(config, () => randomBytes(48).toString("base64url"));
  const logger = options.logger === false ? undefined : (options.logger ?? (await createLogger(config)));
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    logController: new RequestLogController(),
    // Most requests write nothing at the configured level: their child logger is made on first use.
    ...(logger ? { childLoggerFactory: lazyChildLoggerFactory } : {}),
    trustProxy: trustProxyOf(config),
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: "idle",
    frameworkErrors,
    // Fastify's own 503 while closing has its own body; ours below uses the error envelope.
    return503OnClosing: false,
  });
  let draining = false;
  // Callback style: it runs on every request, and an async hook costs a promise each time.
  app.addHook("onRequest", (_request, reply, done) => {
    if (!draining) return done();
    const body: TErrorBody = { error: { code: "service_unavailable", message: "the server is shutting down; try again shortly" } };
    void reply.code(503).header("connection", "close").header("retry-after", "1").send(body);
  });
  // Registered before the app, so it runs before the websocket plugin's own preClose hook (which
  // would close every socket without a code): new requests get 503 from here on.
  app.addHook("preClose", async () => {
    draining = true;
    await drainWebsockets(app);
  });
  if (logger) recordErrorCodes(app);
  await app.register(fp(serviceApp), { config, database, secret });
  if (database.walCheckpointer) {
    database.walCheckpointer.onError = (err) =>
      app.log.warn({ err }, "the WAL checkpointer thread failed; SQLite's own checkpoints carry on without it");
  }
  app.addHook("onClose", async () => database.close());
  if (database.provider === "postgres" && !config.secret) {
    // PostgreSQL is how several instances share a database; each would sign with its own
    // generated secret, and a login made on one would be refused by the others.
    app.log.warn(
      `POSTERN_SECRET is not set: this instance signs logins with the secret in ${config.dataDir}; set the same POSTERN_SECRET on every instance that shares this database`,
    );
  }
  return app;
}

export async function startServer(config: Config): Promise<FastifyInstance> {
  checkWritableDirs(config);
  const logger = await createLogger(config);
  const open = async () => {
    const database = await openMigratedDatabase(config.databaseUrl, (pending) =>
      logger.info({ migrations: pending }, `applying ${pending.length} database migration(s) to ${redactUrl(config.databaseUrl)}`),
    );
    return buildServer(config, { database, logger });
  };
  let app = await open();
  const admin = await bootstrapAdmin(app.ctx);
  await app.listen({ port: config.port, host: config.host });
  const url = publicUrlOf(config);
  if (admin) {
    process.stdout.write(
      `\n  First start: an admin account was created.\n` +
        `    open      ${url}\n` +
        `    username  ${admin.username}\n` +
        `    password  ${admin.password}\n` +
        `  This password is shown only once; log in and change it under your name → Your account.\n\n`,
    );
  }
  app.log.info({ url, tunnel: config.tunnel }, "Postern is serving");

  let state: "serving" | "restarting" | "stopping" = "serving";
  let stopAfterRestart: string | undefined;
  const shutdown = (signal: string) => {
    if (state === "restarting") stopAfterRestart = signal;
    if (state !== "serving") return;
    state = "stopping";
    app.log.info({ signal }, "shutting down: finishing requests in flight, closing websockets");
    const force = setTimeout(() => {
      app.log.error(`shutdown did not finish within ${SHUTDOWN_DEADLINE_MS} ms; exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    force.unref();
    app.close().then(
      () => {
        app.log.info("shut down cleanly");
        process.exit(0);
      },
      (err: unknown) => {
        app.log.error({ err }, "error while shutting down");
        process.exit(1);
      },
    );
  };
  // The database no longer holds changes this process has taken (changes.ts): its board, caches,
  // schedules and doors hold them still, and new changes would reuse their seqs unseen. All of
  // that is rebuilt from the database at start, so the server starts again, in this process:
  // requests in flight finish, and the browsers, told by the live stream to start over
  // (live.plugin.ts), reconnect and take the board afresh.
  const restartOnRewind = (current: FastifyInstance) => {
    current.changes.onRewound((reason) => {
      if (state !== "serving" || current !== app) return;
      state = "restarting";
      app.log.warn(`restarting in place to reload from the database: ${reason}`);
      void (async () => {
        try {
          await app.close();
          app = await open();
          restartOnRewind(app);
          await app.listen({ port: config.port, host: config.host });
        } catch (err) {
          logger.error({ err }, "could not restart; exiting");
          process.exit(1);
        }
        state = "serving";
        app.log.info({ url }, "Postern is serving again");
        if (stopAfterRestart) shutdown(stopAfterRestart);
      })();
    });
  };
  restartOnRewind(app);
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  return app;
}
