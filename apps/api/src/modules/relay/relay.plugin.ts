// The monitoring relay's queue worker, running for the app's lifetime when SMTP is configured.
// A queued message (from this instance or another) wakes it; delivery progress is recorded as
// message.* events by relay.service.ts. Also the hourly pruning of old messages (relay.retention.ts).
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { MESSAGE_PRUNE_EVERY_MS, pruneMessages } from "./relay.retention";
import { relaySettingsOf, type RelaySettings } from "./relay.settings";
import { RelayWorker } from "./relay.worker";

export interface Relay {
  settings: RelaySettings;
  /** Null when the relay is off. */
  worker: RelayWorker | null;
  /** Wakes the worker (after queueing a message). */
  poke(): void;
}

declare module "fastify" {
  interface FastifyInstance {
    relay: Relay;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    const settings = relaySettingsOf(app.config);
    let worker: RelayWorker | null = null;
    if (settings.enabled) {
      const w = new RelayWorker(app.ctx, settings, {
        onError: (err) => app.dbHealth.report("relay queue failed; retrying in 1 s", err),
      });
      worker = w;
      const unsubscribe = app.changes.subscribe(({ event }) => {
        if (event.type === "message.queued") w.poke();
      });
      app.addHook("preClose", async () => unsubscribe());
      app.addHook("onReady", async () => w.start());
      // preClose, not onClose: onClose hooks run last-registered first, so the database would
      // already be closed under an attempt in progress (and pg's pool.end() waits on it forever).
      app.addHook("preClose", async () => w.stop());
    } else {
      app.log.info(settings.reason);
    }
    // Whether or not the relay is on now: messages from when it was are pruned all the same.
    const { relayRetainDays } = app.config;
    if (relayRetainDays > 0) {
      let pruning: Promise<unknown> = Promise.resolve();
      const prune = () => {
        pruning = pruneMessages(app.ctx, relayRetainDays).catch((err: unknown) => app.dbHealth.report("relay: pruning old messages failed", err));
      };
      let pruner: NodeJS.Timeout | undefined;
      app.addHook("onReady", async () => {
        prune();
        pruner = setInterval(prune, MESSAGE_PRUNE_EVERY_MS);
        pruner.unref();
      });
      // Before the database closes (onClose), as for the worker.
      app.addHook("preClose", async () => {
        clearInterval(pruner);
        await pruning;
      });
    }
    app.decorate("relay", { settings, worker, poke: () => worker?.poke() });
  },
  { name: "relay", dependencies: ["database", "changes"] },
);
