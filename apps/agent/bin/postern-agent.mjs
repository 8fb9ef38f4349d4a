#!/usr/bin/env node
// The installed `postern-agent` command: the compiled daemon (`dist/postern-agent.mjs`, made by
// `pnpm build`), in this same process so systemd's signals reach it.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const bundle = path.join(import.meta.dirname, "..", "dist", "postern-agent.mjs");
if (!fs.existsSync(bundle)) {
  process.stderr.write("postern-agent: not built yet: run `pnpm build` in the repository first\n");
  process.exit(1);
}
await import(pathToFileURL(bundle).href);
