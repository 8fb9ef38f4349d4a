import type { Command } from "commander";
import { ZCreateUserBody, ZPassword } from "@postern/contracts";
import { generatePassword } from "../modules/auth/auth.service";
import { createUser, findUserByUsername, updateUser } from "../modules/users/users.service";
import { listUsers } from "../modules/users/users.sql";
import { groupsOf } from "../modules/users/users.presenter";
import { CliError, parseWith, withDatabase } from "./context";

async function firstLineOfStdin(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes("\n")) break;
  }
  return text.split(/\r?\n/)[0] ?? "";
}

export function registerUserCommands(program: Command): void {
  const user = program.command("user").description("manage users");

  user
    .command("add <username>")
    .description("create a local user (prints a generated password when --password is left out)")
    .option("--password <pw>", "the password (at least 8 characters)")
    .option("--admin", "make the user an admin")
    .option("--email <e>", "e-mail address")
    .action(async (username: string, opts: { password?: string; admin?: boolean; email?: string }) => {
      const password = opts.password ?? generatePassword();
      const body = parseWith(
        ZCreateUserBody,
        { username, password, email: opts.email, role: opts.admin ? "admin" : "member" },
        (field) => (field === "username" ? "username" : `--${field}`),
      );
      await withDatabase(async ({ ctx, caller }) => {
        const created = await createUser(ctx, caller, body);
        console.log(`created ${created.role} ${created.username} (${created.id})`);
        if (!opts.password) console.log(`password: ${password}`);
      });
    });

  user
    .command("disable <username>")
    .description("disable a user: every login and access session of theirs ends at once")
    .action(async (username: string) => {
      await withDatabase(async ({ ctx, caller }) => {
        const found = await findUserByUsername(ctx, username);
        if (!found) throw new CliError(`no user "${username}"`);
        await updateUser(ctx, caller, found.id, { disabled: true });
        console.log(`disabled ${username}`);
      });
    });

  user
    .command("password <username>")
    .description("set a user's password (prints a generated one when --password is left out); every login of theirs ends")
    .option("--password <pw>", "the new password (at least 8 characters); `-` reads it from the first line of stdin")
    .option("--revoke-tokens", "also revoke the user's API tokens")
    .action(async (username: string, opts: { password?: string; revokeTokens?: boolean }) => {
      // From stdin it stays out of the shell's history and out of `ps`.
      const given = opts.password === "-" ? await firstLineOfStdin() : opts.password;
      const password = parseWith(ZPassword, given ?? generatePassword(), () => "--password");
      await withDatabase(async ({ ctx, caller }) => {
        const found = await findUserByUsername(ctx, username);
        if (!found) throw new CliError(`no user "${username}"`);
        await updateUser(ctx, caller, found.id, { password, revokeTokens: opts.revokeTokens }, "cli");
        console.log(`set a new password for ${username}; their logins have ended`);
        if (!opts.password) console.log(`password: ${password}`);
      });
    });

  user
    .command("list")
    .description("list users")
    .action(async () => {
      await withDatabase(async ({ ctx }) => {
        const rows = (await listUsers(ctx)).map((u) => ({
          username: u.username,
          role: u.role,
          status: u.disabled ? "disabled" : "active",
          email: u.email ?? "",
          groups: groupsOf(u.memberships).map((g) => g.name).join(","),
        }));
        printTable(rows, ["username", "role", "status", "email", "groups"]);
      });
    });
}

export function printTable<K extends string>(rows: Record<K, string>[], columns: K[]): void {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  console.log(line(columns.map((c) => c.toUpperCase())));
  for (const r of rows) console.log(line(columns.map((c) => r[c])));
}
