// The live stream's fan-out for this instance: every change the dispatcher hands out (made here
// or read from the log) goes to this instance's clients, in the log's order.
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { LiveHub, type LiveSettings } from "./live.hub";
import { pruneLog } from "./live.log";

/** Retention of the live log: resume works within it, a snapshot beyond. */
export const LIVE_RETAIN_EVENTS = 10_000;
export const LIVE_RETAIN_MS = 24 * 3600 * 1000;
const PRUNE_EVERY_MS = 60_000;

export interface Live {
  hub: LiveHub;
  configure(settings: Partial<LiveSettings>): void;
}

declare module "fastify" {
  interface FastifyInstance {
    live: Live;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    const log = (msg: string, err?: unknown) => app.log.error({ err }, msg);
    const hub = new LiveHub(app.ctx, app.board.cache, {}, log);
    app.metrics.countLiveClients = () => hub.clientCount;
    const unsubscribe = app.changes.subscribe((record) => hub.deliver(record));

    const prune = () => pruneLog(app.ctx, LIVE_RETAIN_EVENTS, LIVE_RETAIN_MS).catch((err: unknown) => log("live: pruning failed", err));
    let pruner: NodeJS.Timeout | undefined;

    app.decorate("live", { hub, configure: (settings: Partial<LiveSettings>) => hub.configure(settings) });

    app.addHook("onReady", async () => {
      // The dispatcher (registered first) has read where the log stands; the stream starts there.
      hub.lastSeq = app.changes.lastSeq;
      hub.start();
      void prune();
      pruner = setInterval(() => void prune(), PRUNE_EVERY_MS);
      pruner.unref();
    });
    // preClose: before @fastify/websocket closes the sockets and the database goes away.
    app.addHook("preClose", async () => {
      unsubscribe();
      clearInterval(pruner);
      hub.stop();
    });
  },
  { name: "live", dependencies: ["database", "changes", "metrics", "board"] },
);
