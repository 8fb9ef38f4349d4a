#!/usr/bin/env node
// `postern <command>`: the server and the administration commands.
import { CommanderError } from "commander";
import { ConfigError } from "../config";
import { errorLine } from "./context";
import { buildProgram } from "./program";

const program = buildProgram();

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
