// Runs the pnpm that is running the current script, so root scripts work when pnpm came from
// `npx pnpm@…` and is not on PATH (the README's quick start on a machine with only Node.js).
import { spawnSync } from "node:child_process";

const execPath = process.env.npm_execpath ?? "";
const [command, args] = /pnpm\.(c?js|mjs)$/.test(execPath)
  ? [process.execPath, [execPath, ...process.argv.slice(2)]]
  : ["pnpm", process.argv.slice(2)];
const result = spawnSync(command, args, { stdio: "inherit", shell: command === "pnpm" && process.platform === "win32" });
process.exit(result.status ?? 1);
