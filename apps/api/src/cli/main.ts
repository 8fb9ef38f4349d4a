// `postern <command>`: the server and the administration commands. `index.ts` runs it from the
// sources (tsx); the compiled build (`bin/postern.mjs` → `dist/postern.cjs`) calls `main` too.
import { Command, CommanderError } from "commander";
import { migrateDatabase, redactUrl } from "@postern/db";
import { ConfigError } from "../config";
import { POSTERN_VERSION } from "../version";
import { errorLine, readConfig, setConfigFile } from "./context";
import { registerAuditCommands } from "./audit";
import { registerGroupCommands } from "./group";
import { registerServiceCommands } from "./service";
import { registerUserCommands } from "./user";
import { registerDoctorCommand } from "./doctor";
import { registerTunnelCommands } from "./tunnel";
import { registerTokenCommands } from "./token";
import { registerBackupCommands } from "./backup";

function buildProgram(): Command {
  const program = new Command("postern")
    .description("Postern: a just-in-time access board")
    .version(POSTERN_VERSION, "-V, --version", "print Postern's version")
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
  registerBackupCommands(program);
  return program;
}

/** Runs one command line; failures end the process with a one-line reason on stderr. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exit(err.exitCode);
    }
    const prefix = err instanceof ConfigError ? "postern: configuration error: " : "postern: ";
    process.stderr.write(prefix + errorLine(err) + "\n");
    process.exit(1);
  }
}

/**
 * Loads (and so compiles) the modules `postern serve` needs without starting anything: the
 * build runs it once to record V8's code cache, so a real start skips most compilation.
 */
export async function warmUp(): Promise<void> {
  await import("../server");
}
