#!/usr/bin/env node
// The installed `postern` command: runs the TypeScript CLI through tsx.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const tsx = require.resolve("tsx/cli");
const cli = path.join(import.meta.dirname, "..", "src", "cli", "index.ts");
const result = spawnSync(process.execPath, [tsx, cli, ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(result.status ?? 1);
