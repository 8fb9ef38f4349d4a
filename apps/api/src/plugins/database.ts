// Decorates the app with the database context and the parsed configuration.
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { OpenDatabase } from "@postern/db";
import type { Config } from "../config";
import type { DbContext } from "../lib/db-context";
import { ChangeDispatcher } from "./changes";

declare module "fastify" {
  interface FastifyInstance {
    ctx: DbContext;
    config: Config;
  }
}

export interface DatabasePluginOptions {
  config: Config;
  database: OpenDatabase;
  now?: () => Date;
}

export default fp(
  async (app: FastifyInstance, opts: DatabasePluginOptions) => {
    app.decorate("config", opts.config);
    app.decorate("ctx", {
      db: opts.database.db,
      provider: opts.database.provider,
      now: opts.now ?? (() => new Date()),
      changes: new ChangeDispatcher((err) => app.log.error({ err }, "a consumer of a committed change failed")),
    } satisfies DbContext);
  },
  { name: "database" },
);
