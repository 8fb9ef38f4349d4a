// Runs the session clock (booked starts, expiry, waitlist offers) and the late-start sweeper
// (sessions/late-starts.ts) for the app's lifetime, fed by every committed change of any process.
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { SessionClock } from "../modules/sessions/session-clock";
import { LateStartSweeper } from "../modules/sessions/late-starts";
import { lineRulesOf } from "../modules/sessions/waitlist.service";

declare module "fastify" {
  interface FastifyInstance {
    sessionClock: SessionClock;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    const clock = new SessionClock(
      app.ctx,
      (err) => app.dbHealth.report("session clock failed; retrying in 1 s", err),
      lineRulesOf(app.config),
    );
    app.decorate("sessionClock", clock);
    const sweeper = new LateStartSweeper(app.ctx, (err) => app.dbHealth.report("could not check access after a change", err));
    const unsubscribe = app.changes.subscribe((record) => {
      clock.notice(record.event);
      sweeper.notice(record);
    });
    app.addHook("onReady", async () => clock.start());
    // preClose, not onClose: onClose hooks run last-registered first, so the database (closed in
    // an onClose hook added after this plugin) would be gone before the timers stop.
    app.addHook("preClose", async () => {
      unsubscribe();
      await clock.stop();
      await sweeper.settled();
    });
  },
  { name: "session-clock", dependencies: ["database", "changes"] },
);
