// The `postern` command tree, built without running anything (the entry point parses argv; the
// tests walk the tree to check every command that changes state records its events).
import { Command } from "commander";
import { migrateDatabase, redactUrl } from "@postern/db";
import { readConfig, setConfigFile } from "./context";
import { registerAuditCommands } from "./audit";
import { registerGroupCommands } from "./group";
import { registerServiceCommands } from "./service";
import { registerUserCommands } from "./user";
import { registerDoctorCommand } from "./doctor";
import { registerTunnelCommands } from "./tunnel";
import { registerTokenCommands } from "./token";
import { registerBackupCommands } from "./backup";
import { POSTERN_VERSION } from "../version";

export function buildProgram(): Command {
  const program = new Command("postern")
    .description("Postern: a just-in-time access board")
    .version(POSTERN_VERSION, "-V, --version", "print Postern's version")
    .option("-c, --config <file>", "configuration file (default: ./postern.yaml when present)")
    // A usage error is one line on stderr, worded as every other failure (`--help` shows the rest).
    .configureOutput({ outputError: (text, write) => write(`postern: ${text.replace(/^error: /, "")}`) })
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
  registerBackupCommands(program);
  return program;
}
