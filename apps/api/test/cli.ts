// Runs the real `postern` CLI (`tsx src/cli/index.ts …`) in a child process for tests.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const tsxCli = require.resolve("tsx/cli");
const cliEntry = path.resolve(import.meta.dirname, "../src/cli/index.ts");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `postern <args>` with only the given environment (plus PATH and HOME). */
export function spawnPostern(args: string[], env: Record<string, string>, cwd: string): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [tsxCli, cliEntry, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", POSTERN_LOG_LEVEL: "silent", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** Runs `postern <args>` to completion. */
export function postern(args: string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnPostern(args, env, cwd);
    child.stdin.end();
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
