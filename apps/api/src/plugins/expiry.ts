// Runs the session expiry scheduler for the app's lifetime.
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { ExpiryScheduler } from "../modules/sessions/expiry.scheduler";

export default fp(
  async (app: FastifyInstance) => {
    const scheduler = new ExpiryScheduler(
      app.ctx,
      (sessions) => {
        for (const session of sessions) app.changes.announce({ kind: "session", verb: "expired", session });
      },
      (err) => app.log.error({ err }, "session expiry failed; retrying in 1 s"),
    );
    const unsubscribe = app.changes.subscribe((change) => {
      if (change.kind === "session" && change.verb !== "expired") scheduler.poke();
    });
    app.addHook("onReady", async () => scheduler.start());
    app.addHook("onClose", async () => {
      unsubscribe();
      await scheduler.stop();
    });
  },
  { name: "expiry", dependencies: ["database", "changes"] },
);
