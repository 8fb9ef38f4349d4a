// Bulk import of connection services from CSV lines `main;sub` (the format of the older
// VPN-list tools). Each line becomes one service; existing slugs are skipped, not overwritten.
import { parse } from "csv-parse/sync";
import { slugify, type TImportResult, type TServiceKind } from "@postern/contracts";
import { AppError } from "../../errors";
import type { DbContext } from "../../lib/db-context";
import { runChange, type Origin } from "../../lib/run-change";
import { assertGroupsExist } from "../users/users.service";
import { presentService } from "./services.presenter";
import { assertLengthsAllowed, implicitDefaultSeconds } from "./services.rule-checks";
import { createServiceInTx } from "./services.service";

export interface ImportOptions {
  kind?: TServiceKind;
  exclusive?: boolean;
  maxDurationSeconds?: number;
  defaultDurationSeconds?: number;
  groupIds?: string[];
  /** How the caller named the lengths (CLI options); the query parameters by default. */
  fieldOf?: (field: "maxDurationSeconds" | "defaultDurationSeconds") => string;
}

const IMPORT_PARAMS = { maxDurationSeconds: "maxSeconds", defaultDurationSeconds: "defaultSeconds" } as const;

interface Row {
  line: number;
  main: string;
  sub?: string;
}

export function parseConnectionsCsv(text: string): { rows: Row[]; skipped: TImportResult["skipped"] } {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    // `info` carries each record's line in the file, so blank lines do not shift the numbers.
    records = parse(text, { delimiter: ";", relax_column_count: true, skip_empty_lines: true, trim: true, bom: true, info: true }) as unknown as typeof records;
  } catch (err) {
    throw new AppError("validation_failed", `body: not valid CSV (${(err as Error).message})`, [
      { field: "body", message: "CSV lines of the form main;sub" },
    ]);
  }
  const rows: Row[] = [];
  const skipped: TImportResult["skipped"] = [];
  records.forEach(({ record: fields, info }, i) => {
    const line = info.lines;
    const [main = "", sub = "", ...rest] = fields;
    if (main.startsWith("#")) return;
    if (i === 0 && main.toLowerCase() === "main" && sub.toLowerCase() === "sub") return;
    if (rest.some((f) => f !== "")) return skipped.push({ line, reason: "expected at most two fields: main;sub" });
    if (!main) return skipped.push({ line, reason: "the main connection name is empty" });
    if (main.length > 128 || sub.length > 128) return skipped.push({ line, reason: "names are limited to 128 characters" });
    // The service is named "main / sub": held to the limit a service's name has everywhere else.
    if (sub && main.length + sub.length + 3 > 128) return skipped.push({ line, reason: "the service name (main / sub) is limited to 128 characters" });
    rows.push({ line, main, sub: sub || undefined });
  });
  return { rows, skipped };
}

export async function importServicesCsv(
  ctx: DbContext,
  origin: Origin,
  text: string,
  minSessionSeconds: number,
  options: ImportOptions = {},
): Promise<TImportResult> {
  const parsed = parseConnectionsCsv(text);
  // Judged before any line, naming the options as sent: even a file with no usable line is told.
  assertLengthsAllowed(options, minSessionSeconds, options.fieldOf ?? ((field) => `querystring.${IMPORT_PARAMS[field]}`));
  const max = options.maxDurationSeconds ?? 8 * 3600;
  return runChange(ctx, origin, async (tx, record) => {
    await assertGroupsExist(ctx, tx, options.groupIds ?? [], "querystring.groupId");
    const { rows } = parsed;
    // A copy: the change may run again after a deadlock, and must not list a line twice.
    const skipped = [...parsed.skipped];
    const created: TImportResult["created"] = [];
    const seen = new Set<string>();
    for (const row of rows) {
      const name = row.sub ? `${row.main} / ${row.sub}` : row.main;
      const slug = slugify(name);
      if (!slug) {
        skipped.push({ line: row.line, reason: "the name has no letters or digits to make a slug from" });
        continue;
      }
      if (seen.has(slug) || (await tx.service.findUnique({ where: { slug }, select: { id: true } }))) {
        skipped.push({ line: row.line, reason: `a service with slug "${slug}" already exists` });
        continue;
      }
      seen.add(slug);
      const service = await createServiceInTx(ctx, tx, record, {
        name,
        slug,
        kind: options.kind ?? "vpn",
        connection: { main: row.main, sub: row.sub },
        exclusive: options.exclusive ?? true,
        maxDurationSeconds: max,
        defaultDurationSeconds: options.defaultDurationSeconds === undefined ? implicitDefaultSeconds(max, minSessionSeconds) : Math.min(options.defaultDurationSeconds, max),
        groupIds: options.groupIds,
      }, minSessionSeconds);
      created.push(presentService(service, { detail: true, now: ctx.now() }));
    }
    skipped.sort((a, b) => a.line - b.line);
    return { created, skipped };
  });
}
