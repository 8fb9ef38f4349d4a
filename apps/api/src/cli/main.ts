// Runs one `postern` command line: `index.ts` calls it from the sources (tsx), the compiled
// build (`bin/postern.mjs` → `dist/postern.cjs`) calls it too. Failures end the process with a
// one-line reason on stderr.
import { CommanderError } from "commander";
import { ConfigError } from "../config";
import { errorLine } from "./context";
import { buildProgram } from "./program";

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
