import fs from "node:fs";
import type { Command } from "commander";
import { slugify, ZCreateServiceBody, ZServiceKind } from "@postern/contracts";
import type { DbContext } from "../lib/db-context";
import { importServicesCsv } from "../modules/services/services.import";
import { assertLengthsAllowed, implicitDefaultSeconds } from "../modules/services/services.rule-checks";
import { createService } from "../modules/services/services.service";
import { CliError, collect, intOption, parseWith, withDatabase } from "./context";

async function groupIdsByName(ctx: DbContext, names: string[]): Promise<string[]> {
  const groups = await ctx.db.group.findMany({ where: { name: { in: names } } });
  const missing = names.filter((n) => !groups.some((g) => g.name === n));
  if (missing.length > 0) throw new CliError(`--group: no group named ${missing.map((m) => `"${m}"`).join(", ")}`);
  return groups.map((g) => g.id);
}

interface AddOptions {
  slug?: string;
  kind: string;
  exclusive?: boolean;
  group?: string[];
  maxSeconds: number;
  defaultSeconds?: number;
  approval?: boolean;
  url?: string;
  description?: string;
}

/** The options that set a service's lengths, for refusals that name them. */
const LENGTH_OPTIONS = { maxDurationSeconds: "--max-seconds", defaultDurationSeconds: "--default-seconds" } as const;

export function registerServiceCommands(program: Command): void {
  const service = program.command("service").description("manage services");

  service
    .command("add <name>")
    .description("create a service")
    .option("--slug <s>", "URL-safe identifier (default: from the name)")
    .option("--kind <kind>", `one of ${ZServiceKind.options.join("|")}`, "other")
    .option("--exclusive", "one holder at a time")
    .option("--group <g>", "a group allowed to see and request it (repeatable)", collect)
    .option("--max-seconds <n>", "longest session", intOption("--max-seconds"), 8 * 3600)
    .option("--default-seconds <n>", "session length when none is asked for", intOption("--default-seconds"))
    .option("--approval", "sessions need an admin's approval")
    .option("--url <url>", "where the service is reached")
    .option("--description <text>", "a short description")
    .action(async (name: string, opts: AddOptions) => {
      await withDatabase(async ({ config, ctx, caller }) => {
        const groupIds = await groupIdsByName(ctx, opts.group ?? []);
        const body = parseWith(
          ZCreateServiceBody,
          {
            name,
            slug: opts.slug ?? slugify(name),
            kind: opts.kind,
            exclusive: opts.exclusive ?? false,
            requiresApproval: opts.approval ?? false,
            maxDurationSeconds: opts.maxSeconds,
            defaultDurationSeconds: opts.defaultSeconds ?? implicitDefaultSeconds(opts.maxSeconds, config.minSessionSeconds),
            groupIds,
            url: opts.url,
            description: opts.description,
          },
          (field) =>
            ({
              name: "name",
              maxDurationSeconds: "--max-seconds",
              defaultDurationSeconds: "--default-seconds",
              requiresApproval: "--approval",
            })[field] ?? `--${field}`,
        );
        assertLengthsAllowed(body, config.minSessionSeconds, (field) => LENGTH_OPTIONS[field]);
        const created = await createService(ctx, caller, body, config.minSessionSeconds);
        console.log(`created service ${created.name} (slug ${created.slug}, id ${created.id})`);
      });
    });

  service
    .command("import <file>")
    .description("create services from a CSV file of `main;sub` lines")
    .option("--kind <kind>", `kind of the new services, one of ${ZServiceKind.options.join("|")}`, "vpn")
    .option("--shared", "allow several holders at once (default: exclusive)")
    .option("--group <g>", "a group allowed to see them (repeatable)", collect)
    .option("--max-seconds <n>", "longest session", intOption("--max-seconds"))
    .action(async (file: string, opts: { kind: string; shared?: boolean; group?: string[]; maxSeconds?: number }) => {
      let text: string;
      try {
        text = fs.readFileSync(file, "utf8");
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const kind = parseWith(ZServiceKind, opts.kind, () => "--kind");
      await withDatabase(async ({ config, ctx, caller }) => {
        const result = await importServicesCsv(ctx, caller, text, config.minSessionSeconds, {
          kind,
          exclusive: !opts.shared,
          groupIds: await groupIdsByName(ctx, opts.group ?? []),
          maxDurationSeconds: opts.maxSeconds,
          fieldOf: (field) => LENGTH_OPTIONS[field],
        });
        for (const s of result.created) console.log(`created ${s.slug}`);
        for (const s of result.skipped) console.log(`skipped line ${s.line}: ${s.reason}`);
        console.log(`${result.created.length} created, ${result.skipped.length} skipped`);
      });
    });
}
