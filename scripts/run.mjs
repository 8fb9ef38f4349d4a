// `pnpm start` and `pnpm postern <command>`: bring the compiled build up to date (only what
// changed since the last build: the SPA for `serve`, the API bundle always), then run the
// compiled CLI in this same process, so signals reach the server directly.
import path from "node:path";
import { ensureBuilt } from "./build.mjs";

const args = process.argv.slice(2);
const bin = path.resolve(import.meta.dirname, "..", "apps", "api", "bin", "postern.mjs");

try {
  await ensureBuilt(args[0] === "serve" ? ["web", "api"] : ["api"]);
} catch (err) {
  process.stderr.write(`postern: the build failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
// The launcher reads its command line from process.argv, as if started as `postern …`.
process.argv = [process.argv[0] ?? process.execPath, bin, ...args];
await import(bin);
