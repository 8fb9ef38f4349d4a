import type { Command } from "commander";
import { ZCreateGroupBody } from "@postern/contracts";
import type { DbContext } from "../lib/db-context";
import { createGroup, deleteGroup, findGroupByName, renameGroup, setGroupMember } from "../modules/users/groups.service";
import { findUserByUsername } from "../modules/users/users.service";
import { CliError, parseWith, withDatabase } from "./context";

async function groupNamed(ctx: DbContext, name: string) {
  const found = await findGroupByName(ctx, name);
  if (!found) throw new CliError(`no group "${name}"`);
  return found;
}

async function userNamed(ctx: DbContext, username: string) {
  const user = await findUserByUsername(ctx, username);
  if (!user) throw new CliError(`no user "${username}"`);
  return user;
}

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
    .command("rename <group> <new-name>")
    .description("rename a group")
    .action(async (name: string, newName: string) => {
      const body = parseWith(ZCreateGroupBody, { name: newName }, () => "new-name");
      await withDatabase(async ({ ctx, caller }) => {
        await renameGroup(ctx, caller, (await groupNamed(ctx, name)).id, body.name);
        console.log(`renamed group ${name} to ${body.name}`);
      });
    });

  group
    .command("delete <group>")
    .description("delete a group: its members lose the services it granted, and their sessions on them end")
    .action(async (name: string) => {
      await withDatabase(async ({ ctx, caller }) => {
        await deleteGroup(ctx, caller, (await groupNamed(ctx, name)).id);
        console.log(`deleted group ${name}`);
      });
    });

  const member = group.command("member").description("manage group members");

  member
    .command("add <group> <username>")
    .description("add a user to a group")
    .action(async (groupName: string, username: string) => {
      await withDatabase(async ({ ctx, caller }) => {
        const found = await groupNamed(ctx, groupName);
        await setGroupMember(ctx, caller, found.id, (await userNamed(ctx, username)).id, true);
        console.log(`${username} is a member of ${groupName}`);
      });
    });

  member
    .command("remove <group> <username>")
    .description("remove a user from a group: their sessions on services they no longer see end at once")
    .action(async (groupName: string, username: string) => {
      await withDatabase(async ({ ctx, caller }) => {
        const found = await groupNamed(ctx, groupName);
        await setGroupMember(ctx, caller, found.id, (await userNamed(ctx, username)).id, false);
        console.log(`${username} is no longer a member of ${groupName}`);
      });
    });
}
