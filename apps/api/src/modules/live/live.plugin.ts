// The live stream's fan-out for this instance: every change the dispatcher hands out (made here
// or read from the log) goes to this instance's clients, in the log's order.
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { LiveHub, type LiveSettings } from "./live.hub";
import { pruneLog } from "./live.log";
import { answerChangesWithSeq } from "./live.seq";

/** Retention of the live log: resume works within it, a snapshot beyond. */
export const LIVE_RETAIN_EVENTS = 10_000;
export const LIVE_RETAIN_MS = 24 * 3600 * 1000;
const PRUNE_EVERY_MS = 60_000;
/** Up to this many streams a change's frames go out before its request answers (changes.ts). */
const AT_ONCE_AUDIENCE = 32;

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
    const log = (msg: string, err?: unknown) => app.dbHealth.report(msg, err);
    const hub = new LiveHub(app.ctx, app.board.cache, {}, log);
    hub.principalChanged = (user) => app.principalChanged(user);
    app.metrics.countLiveClients = () => hub.clientCount;
    const unsubscribe = app.changes.subscribe((record) => hub.deliver(record));
    app.changes.runAtOnceWhile(() => hub.clientCount <= AT_ONCE_AUDIENCE);
    // The database went back in time: what a browser holds may be a change it no longer has, and
    // resuming after it would skip the change that now has its seq. A snapshot, not a resume.
    app.changes.onRewound(() => hub.dropAll("the server reloaded the board from the database"));

    const prune = () => pruneLog(app.ctx, LIVE_RETAIN_EVENTS, LIVE_RETAIN_MS).catch((err: unknown) => log("live: pruning failed", err));
    let pruner: NodeJS.Timeout | undefined;

    app.decorate("live", { hub, configure: (settings: Partial<LiveSettings>) => hub.configure(settings) });
    answerChangesWithSeq(app);

    app.addHook("onReady", async () => {
      // The dispatcher (registered first) has read where the log stands; the stream starts there.
      hub.lastSeq = app.changes.lastSeq;
      hub.start();
      void prune();
      pruner = setInterval(() => void prune(), PRUNE_EVERY_MS);
      pruner.unref();
    });
    app.addHook("preClose", async () => clearInterval(pruner));
    // onClose, after the requests still in flight at SIGTERM have finished: their changes still
    // reach the clients that are left. (server.ts has already closed every socket with 1012 and
    // new ones are refused, so this only stops the heartbeat in the normal case.)
    app.addHook("onClose", async () => {
      unsubscribe();
      hub.stop();
    });
  },
  { name: "live", dependencies: ["database", "changes", "metrics", "board"] },
);
