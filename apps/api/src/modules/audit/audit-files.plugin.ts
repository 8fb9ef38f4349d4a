// Runs the weekly audit file writer when POSTERN_AUDIT_EXPORT_DIR is set. Every committed change
// (of this process or, through the live log, of another instance or the CLI) wakes it; it also
// polls, as a safety net.
import path from "node:path";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { AuditFileWriter } from "./audit-files";

declare module "fastify" {
  interface FastifyInstance {
    /** The weekly audit file writer; null when POSTERN_AUDIT_EXPORT_DIR is not set. */
    auditFiles: AuditFileWriter | null;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    const dir = app.config.auditExportDir;
    if (!dir) {
      app.decorate("auditFiles", null);
      return;
    }
    const writer = new AuditFileWriter(app.ctx, path.resolve(dir), {
      error: (msg, err) => app.dbHealth.report(msg, err),
    });
    app.decorate("auditFiles", writer);
    const unsubscribe = app.changes.subscribe(() => writer.poke());
    app.addHook("onReady", async () => {
      writer.start();
      app.log.info({ dir: writer.dir }, "writing weekly audit CSV files");
    });
    // preClose: onClose hooks run after the database is closed (last-registered first).
    app.addHook("preClose", async () => {
      unsubscribe();
      await writer.stop();
    });
  },
  { name: "audit-files", dependencies: ["database", "changes"] },
);
