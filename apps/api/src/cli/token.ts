// `postern token create|revoke`: API tokens from the command line (the secret is printed once).
import type { Command } from "commander";
import { z } from "zod";
import { ZScope } from "@postern/contracts";
import { presentToken } from "../modules/tokens/tokens.presenter";
import { assertGrantable, createApiToken, revokeApiToken } from "../modules/tokens/tokens.service";
import { findUserByUsername } from "../modules/users/users.service";
import { CliError, parseWith, withDatabase } from "./context";

const ZTokenOptions = z.object({
  name: z.string().trim().min(1, "must not be empty").max(64),
  scope: z.array(ZScope, { error: `one or more of ${ZScope.options.join(", ")}` }).min(1, "at least one scope"),
  user: z.string().optional(),
  expires: z.iso.datetime({ offset: true, error: "an ISO-8601 time with an offset, e.g. 2026-12-31T23:59:00Z" }).optional(),
});

export function registerTokenCommands(program: Command): void {
  const token = program.command("token").description("manage API tokens");

  token
    .command("create")
    .description("create an API token (a service token unless --user is given) and print its secret once")
    .requiredOption("--name <n>", "a name to recognise the token by")
    .requiredOption("--scope <s...>", `scopes: ${ZScope.options.join(", ")}`)
    .option("--user <u>", "the owner (username); the token never exceeds the owner's rights")
    .option("--expires <iso>", "expiry time, e.g. 2026-12-31T23:59:00Z")
    .action(async (opts: { name: string; scope: string[]; user?: string; expires?: string }) => {
      const scopes = opts.scope.flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
      const input = parseWith(ZTokenOptions, { ...opts, scope: scopes }, (field) => `--${field.split(".")[0]}`);
      await withDatabase(async ({ ctx, caller }) => {
        let userId: string | null = null;
        if (input.user) {
          const user = await findUserByUsername(ctx, input.user);
          if (!user) throw new CliError(`--user: no user "${input.user}"`);
          if (user.disabled) throw new CliError(`--user: "${input.user}" is disabled`);
          assertGrantable(user.role, input.scope);
          userId = user.id;
        }
        const { row, token: secret } = await createApiToken(ctx, caller, {
          name: input.name,
          scopes: input.scope,
          expiresAt: input.expires ? new Date(input.expires) : undefined,
          userId,
        });
        const shown = presentToken(row);
        console.log(`created ${userId ? `personal token of ${input.user}` : "service token"} ${shown.name} (${shown.id})`);
        console.log(`scopes: ${shown.scopes.join(" ")}${shown.expiresAt ? `; expires ${shown.expiresAt}` : ""}`);
        console.log(`token: ${secret}`);
        console.log("The token is shown only this once; Postern keeps only its hash.");
      });
    });

  token
    .command("revoke <id>")
    .description("revoke an API token at once")
    .action(async (id: string) => {
      await withDatabase(async ({ ctx, caller }) => {
        const revoked = await revokeApiToken(ctx, caller, id, true);
        console.log(`revoked token ${revoked.name} (${revoked.id})`);
      });
    });
}
