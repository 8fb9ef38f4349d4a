#!/usr/bin/env node
// The `postern` command: runs the compiled CLI (`dist/postern.cjs`, made by `pnpm build`) with
// plain Node. The bundle is compiled with V8's code cache (`dist/postern.cjs.cache`, recorded by
// the build), which spares most of the half second V8 would otherwise spend compiling it at
// every start. A cache V8 rejects (another Node version) only costs that time back; it is then
// rewritten in the background when the folder is writable.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { keepTickShape } from "./keep-tick-shape.mjs";

// First, before a garbage collection can free them: see keep-tick-shape.mjs.
await keepTickShape();

// Prisma's query compiler is WebAssembly. V8 compiles it twice by default, a quick baseline and
// an optimised tier; the optimised copy costs about 22 MB of resident memory for code that only
// the admin screens, logins and the clock run (the hot paths send plain SQL). Baseline only:
// idle RSS 134 -> 112 MB, those Prisma requests 10-20 % slower. Read when a module is compiled,
// so setting it before the bundle loads is enough.
try {
  v8.setFlagsFromString("--liftoff-only");
} catch {
  // A Node that refuses runtime flags runs with both tiers.
}

const bundle = path.join(import.meta.dirname, "..", "dist", "postern.cjs");
const cacheFile = `${bundle}.cache`;

if (!fs.existsSync(bundle)) {
  process.stderr.write("postern: not built yet: run `pnpm build` (or `pnpm start`) in the repository first\n");
  process.exit(1);
}

// The build keeps the bundle ASCII-only, so latin1 reads it exactly and fastest.
const source = fs.readFileSync(bundle, "latin1");
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
// The wrapper stays on the bundle's first line, so line numbers in stack traces are the bundle's.
const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: bundle,
  cachedData,
});
const cacheUsable = cachedData !== undefined && !script.cachedDataRejected;
cachedData = undefined;

function writeCache() {
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, script.createCachedData());
    fs.renameSync(temporary, cacheFile);
  } catch {
    fs.rmSync(temporary, { force: true });
  }
}

const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
const cli = module.exports;

if (process.argv[2] === "--write-code-cache") {
  // The build's last step: load what `serve` loads, then record everything V8 compiled.
  await cli.warmUp();
  fs.rmSync(cacheFile, { force: true });
  writeCache();
  if (!fs.existsSync(cacheFile)) {
    process.stderr.write(`postern: could not write ${cacheFile}\n`);
    process.exit(1);
  }
  process.exit(0);
}

if (!cacheUsable) setTimeout(writeCache, 10_000).unref();
await cli.main(process.argv);
