// The audit trail for admins: a filtered, paginated list, the CSV export and the chain check.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { ZAuditExportQuery, ZAuditListQuery, ZAuditPage, ZAuditVerifyResult } from "@postern/contracts";
import { compressAnswers } from "../../lib/compress-answers";
import { auditCsv, startCsv } from "./audit.csv";
import { presentAuditEvent } from "./audit.presenter";
import { auditFilesAnchor } from "./audit-files";
import { auditRangeOf, findAuditEvents, verifyAuditChain } from "./audit.service";

/** A file name safe in a Content-Disposition header on every platform. */
function csvFileName(label: string): string {
  return `postern-audit-${label.replace(/[^0-9A-Za-z_-]+/g, "-")}.csv`;
}

export default async function auditRoutes(app: FastifyInstance) {
  // An export of a busy year is megabytes of CSV, and a page of the list tens of kilobytes, fetched
  // by admins over any link, the tunnel included: compressed for clients that accept it.
  compressAnswers(app);
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get(
    "/api/audit",
    { config: { access: "admin" }, schema: { querystring: ZAuditListQuery, response: { 200: ZAuditPage } } },
    async (request) => {
      const { rows, nextCursor } = await findAuditEvents(app.ctx, request.query);
      return { items: rows.map(presentAuditEvent), nextCursor };
    },
  );

  r.get(
    "/api/audit/export.csv",
    { config: { access: "admin" }, schema: { querystring: ZAuditExportQuery } },
    async (request, reply) => {
      const range = auditRangeOf(request.query);
      const csv = await startCsv(auditCsv(app.ctx, range));
      return reply
        .type("text/csv; charset=utf-8")
        .header("content-disposition", `attachment; filename="${csvFileName(range.label)}"`)
        .header("cache-control", "no-store")
        .send(csv);
    },
  );

  r.get(
    "/api/audit/verify",
    { config: { access: "admin" }, schema: { response: { 200: ZAuditVerifyResult } } },
    async () => {
      const dir = app.auditFiles?.dir;
      const anchor = dir ? await auditFilesAnchor(dir) : null;
      const { checked, firstBreak, head } = await verifyAuditChain(app.ctx, anchor ? [anchor] : []);
      return { checked, intact: !firstBreak, firstBreak, head, anchoredAt: anchor ? { seq: anchor.seq, source: "audit files" as const } : null };
    },
  );
}
