#!/usr/bin/env node
// The installed `postern-agent` command: runs the TypeScript daemon through tsx, forwarding
// signals so systemd's stop reaches it.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const tsx = require.resolve("tsx/cli");
const entry = path.join(import.meta.dirname, "..", "src", "index.ts");
const child = spawn(process.execPath, [tsx, entry, ...process.argv.slice(2)], { stdio: "inherit" });
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
