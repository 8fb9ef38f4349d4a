#!/usr/bin/env node
// `postern <command>`: the server and the administration commands.
import { Command, CommanderError } from "commander";
import { migrateDatabase, redactUrl } from "@postern/db";
import { ConfigError } from "../config";
import { errorLine, readConfig, setConfigFile } from "./context";
import { registerAuditCommands } from "./audit";
import { registerGroupCommands } from "./group";
import { registerServiceCommands } from "./service";
import { registerUserCommands } from "./user";
import { registerDoctorCommand } from "./doctor";
import { registerTunnelCommands } from "./tunnel";
import { registerTokenCommands } from "./token";

const program = new Command("postern")
  .description("Postern: a just-in-time access board")
  .option("-c, --config <file>", "configuration file (default: ./postern.yaml when present)")
  .showHelpAfterError()
  .exitOverride()
  .hook("preAction", (cmd) => setConfigFile(cmd.opts<{ config?: string }>().config));

program
  .command("serve")
  .description("apply migrations and serve the API and the web app")
  .action(async () => {
    // Loaded here so the administration commands do not pay for the whole server at start-up.
    const { startServer } = await import("../server");
    await startServer(readConfig());
  });

program
  .command("migrate")
  .description("apply pending database migrations")
  .action(async () => {
    const config = readConfig();
    await migrateDatabase(config.databaseUrl);
    console.log(`database is up to date (${redactUrl(config.databaseUrl)})`);
  });

registerUserCommands(program);
registerGroupCommands(program);
registerServiceCommands(program);
registerAuditCommands(program);
registerDoctorCommand(program);
registerTunnelCommands(program);
registerTokenCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode);
  }
  const prefix = err instanceof ConfigError ? "postern: configuration error: " : "postern: ";
  process.stderr.write(prefix + errorLine(err) + "\n");
  process.exit(1);
}
