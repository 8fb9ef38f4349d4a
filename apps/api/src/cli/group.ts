import type { Command } from "commander";
import { ZCreateGroupBody } from "@postern/contracts";
import { createGroup, setGroupMember } from "../modules/users/groups.service";
import { findUserByUsername } from "../modules/users/users.service";
import { CliError, parseWith, withDatabase } from "./context";

export function registerGroupCommands(program: Command): void {
  const group = program.command("group").description("manage groups");

  group
    .command("add <name>")
    .description("create a group")
    .action(async (name: string) => {
      const body = parseWith(ZCreateGroupBody, { name }, () => "name");
      await withDatabase(async ({ ctx, caller }) => {
        const created = await createGroup(ctx, caller, body.name);
        console.log(`created group ${created.name} (${created.id})`);
      });
    });

  group
    .command("member")
    .description("manage group members")
    .command("add <group> <username>")
    .description("add a user to a group")
    .action(async (groupName: string, username: string) => {
      await withDatabase(async ({ ctx, caller }) => {
        const found = await ctx.db.group.findUnique({ where: { name: groupName } });
        if (!found) throw new CliError(`no group "${groupName}"`);
        const user = await findUserByUsername(ctx, username);
        if (!user) throw new CliError(`no user "${username}"`);
        await setGroupMember(ctx, caller, found.id, user.id, true);
        console.log(`${username} is a member of ${groupName}`);
      });
    });
}
