// The live stream's producer and fan-out for this instance: committed changes become numbered
// LiveEvent rows; rows reach this instance's clients directly (SQLite: one process) or through
// PostgreSQL LISTEN/NOTIFY (every instance, this one included, delivers in the log's order).
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { eventsOf } from "./live.events";
import { LiveHub, type LiveSettings } from "./live.hub";
import { LiveListener } from "./live.listener";
import { appendLiveEvent, lastLiveSeq, pruneLiveEvents } from "./live.store";

/** Retention of the LiveEvent log: resume works within it, a snapshot beyond. */
export const LIVE_RETAIN_EVENTS = 10_000;
export const LIVE_RETAIN_MS = 24 * 3600 * 1000;
const PRUNE_EVERY_MS = 60_000;

export interface Live {
  hub: LiveHub;
  configure(settings: Partial<LiveSettings>): void;
  /** Resolves when every change announced so far has been written to the log. */
  idle(): Promise<void>;
}

declare module "fastify" {
  interface FastifyInstance {
    live: Live;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    const log = (msg: string, err?: unknown) => app.log.error({ err }, msg);
    const hub = new LiveHub(app.ctx, {}, log);
    app.metrics.countLiveClients = () => hub.clientCount;
    const listener =
      app.ctx.provider === "postgres" ? new LiveListener(app.config.databaseUrl, app.ctx, hub, log) : null;

    // One writer queue per instance keeps this instance's events in announcement order.
    let queue: Promise<void> = Promise.resolve();
    const unsubscribe = app.changes.subscribe((change) => {
      queue = queue
        .then(async () => {
          for (const pending of await eventsOf(app.ctx, change)) {
            const record = await appendLiveEvent(app.ctx, pending.event, pending.audience);
            if (listener) listener.wake();
            else hub.deliver(record);
          }
        })
        .catch((err: unknown) => log("live: recording a change failed", err));
    });

    const prune = () =>
      pruneLiveEvents(app.ctx, LIVE_RETAIN_EVENTS, LIVE_RETAIN_MS).catch((err: unknown) => log("live: pruning failed", err));
    let pruner: NodeJS.Timeout | undefined;

    app.decorate("live", {
      hub,
      configure: (settings: Partial<LiveSettings>) => hub.configure(settings),
      idle: () => queue,
    });

    app.addHook("onReady", async () => {
      hub.lastSeq = await lastLiveSeq(app.ctx);
      hub.start();
      await listener?.start();
      void prune();
      pruner = setInterval(() => void prune(), PRUNE_EVERY_MS);
      pruner.unref();
    });
    // preClose: before @fastify/websocket closes the sockets and the database goes away.
    app.addHook("preClose", async () => {
      unsubscribe();
      clearInterval(pruner);
      hub.stop();
      await queue;
      await listener?.stop();
    });
  },
  { name: "live", dependencies: ["database", "changes", "metrics"] },
);
