// Runs the session scheduler (expiry, booked starts, waitlist offers) for the app's lifetime.
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { ExpiryScheduler } from "../modules/sessions/expiry.scheduler";

export default fp(
  async (app: FastifyInstance) => {
    // Changes the scheduler announces itself need no second look from it.
    let announcing = false;
    const announce: typeof app.changes.announce = (change) => {
      announcing = true;
      try {
        app.changes.announce(change);
      } finally {
        announcing = false;
      }
    };
    const scheduler = new ExpiryScheduler(
      app.ctx,
      (sessions) => {
        for (const session of sessions) announce({ kind: "session", verb: "expired", session });
      },
      (err) => app.log.error({ err }, "session scheduler failed; retrying in 1 s"),
      {
        offerSeconds: app.config.waitlistOfferSeconds,
        onChange: (verb, session) => announce({ kind: "session", verb, session }),
      },
    );
    // Any session change may free a service or add a due instant; a disabled user or a changed
    // service may free one too.
    const unsubscribe = app.changes.subscribe((change) => {
      if (!announcing && change.kind !== "message") scheduler.poke();
    });
    app.addHook("onReady", async () => scheduler.start());
    // preClose, not onClose: onClose hooks run last-registered first, so the database (closed in
    // an onClose hook added after this plugin) would be gone before the timers stop.
    app.addHook("preClose", async () => {
      unsubscribe();
      await scheduler.stop();
    });
  },
  { name: "expiry", dependencies: ["database", "changes"] },
);
