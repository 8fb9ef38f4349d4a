// The compiled build that `pnpm start`, the Docker image and the systemd units run with plain
// `node`: the SPA (Vite), the API+CLI bundle and the gateway agent bundle (esbuild). A target
// is rebuilt only when one of its inputs changed, so `pnpm start` on an unchanged checkout goes
// straight to serving.
//
//   node scripts/build.mjs [web|api|agent]… [--force] [--quiet]
//
// Why bundles: the workspace packages export TypeScript sources and the Prisma clients are
// generated as TypeScript, so plain `node` cannot load them. The API bundle also takes in its
// npm dependencies (one file instead of hundreds of module resolutions at start-up) and is a
// CommonJS script, the form whose compilation V8 can cache (`bin/postern.mjs` loads it with the
// cache this build records; Node 20 has no compile cache for ES modules).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const root = path.resolve(import.meta.dirname, "..");
const rel = (p) => path.relative(root, p).split(path.sep).join("/") || ".";

const args = process.argv.slice(2);
const force = args.includes("--force");
let quiet = args.includes("--quiet");
const note = (text) => {
  if (!quiet) process.stderr.write(`build: ${text}\n`);
};

/** Files under `dir` (recursively), skipping tests, build output and dependencies. */
function listFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  if (fs.statSync(dir).isFile()) return [dir];
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "dist" || entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full));
    else if (!/\.test\.tsx?$/.test(entry.name)) out.push(full);
  }
  return out;
}

/** A hash of the files' paths and bytes: a touched but unchanged file does not rebuild. */
function fingerprintOf(files) {
  const hash = createHash("sha256");
  for (const file of [...new Set(files)].sort()) {
    hash.update(`${rel(file)}\0`);
    hash.update(fs.existsSync(file) ? fs.readFileSync(file) : "(missing)");
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** Inputs of every target besides its sources: dependency versions, patches, this script. */
const common = [path.join(root, "pnpm-lock.yaml"), ...listFiles(path.join(root, "patches")), path.join(root, "scripts", "build.mjs")];

const stampName = ".build-inputs.json";

/** Size and modification time of each file: the cheap first check. */
function statsOf(files) {
  return Object.fromEntries(
    [...new Set(files)].sort().map((f) => {
      const stat = fs.statSync(f, { throwIfNoEntry: false });
      return [rel(f), stat ? [stat.size, stat.mtimeMs] : null];
    }),
  );
}

function writeStamp(outDir, files) {
  const stamp = { fingerprint: fingerprintOf(files), files: statsOf(files) };
  fs.writeFileSync(path.join(outDir, stampName), JSON.stringify(stamp, null, 1) + "\n");
}

/**
 * Up to date when every output exists and the recorded inputs (or `inputsNow`, for targets
 * whose inputs are folders) are the same files with the same content. Sizes and times decide
 * when nothing was touched, without reading a file, so `pnpm start` allocates next to nothing
 * before the server it then runs in the same process; a touched file is hashed.
 */
function upToDate(outDir, outputs, inputsNow) {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(path.join(outDir, stampName), "utf8"));
  } catch {
    return false;
  }
  if (!outputs.every((o) => fs.existsSync(path.join(outDir, o)))) return false;
  const files = inputsNow ?? Object.keys(stamp.files).map((f) => path.join(root, f));
  const now = statsOf(files);
  if (JSON.stringify(now) === JSON.stringify(stamp.files)) return true;
  if (fingerprintOf(files) !== stamp.fingerprint) return false;
  writeStamp(outDir, files);
  return true;
}

// ---- the SPA ----

const webDir = path.join(root, "apps", "web");
function webInputs() {
  return [
    ...listFiles(path.join(webDir, "src")),
    ...listFiles(path.join(webDir, "public")),
    ...["index.html", "vite.config.ts", "precompress.ts", "package.json", "tsconfig.json"].map((f) => path.join(webDir, f)),
    ...listFiles(path.join(root, "packages", "contracts", "src")),
    ...common,
  ];
}

function buildWeb() {
  const vite = path.join(webDir, "node_modules", "vite", "bin", "vite.js");
  // Vite's report goes to stderr: `pnpm postern …` keeps stdout for the command's own output.
  const result = spawnSync(process.execPath, [vite, "build", "--logLevel", quiet ? "warn" : "info"], {
    cwd: webDir,
    stdio: ["ignore", 2, "inherit"],
  });
  if (result.status !== 0) throw new Error("the web app did not build (see above)");
  writeStamp(path.join(webDir, "dist"), webInputs());
}

// ---- the Node bundles ----

const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** The package name of a bare import (`@scope/name/sub` → `@scope/name`). */
function packageOf(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** True when Node, starting from `dir`, finds `pkg` in a node_modules folder on the way up. */
function resolvableFrom(dir, pkg) {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, "node_modules", pkg))) return true;
    if (path.dirname(d) === d) return false;
  }
}

/**
 * esbuild plugin: what stays outside the bundle. Workspace packages are always bundled;
 * `external` packages (native addons, packages that read their own files at run time) are
 * loaded by Node from the bundle's folder, so the build refuses one the app does not declare
 * (pnpm keeps undeclared packages out of reach: it would fail only when run). `optional`
 * packages are required inside try/catch by their users and may be absent.
 */
function externals({ outDir, appName, bundleNpm, external = [], optional = [] }) {
  return {
    name: "postern-externals",
    setup(build) {
      // Prisma's generated client loads its query compiler with import() of an ES module; the
      // package ships the same files as CommonJS, which a CommonJS bundle can require.
      const keepOut = (args, pkg, specifier = args.path) =>
        resolvableFrom(outDir, pkg)
          ? { path: specifier, external: true }
          : { errors: [{ text: `${pkg} (imported by ${rel(args.importer)}) must be a dependency of ${appName}: the bundle loads it at run time` }] };
      build.onResolve({ filter: /^@prisma\/client\/runtime\/query_compiler_bg\..*\.mjs$/ }, (args) =>
        keepOut(args, "@prisma/client", bundleNpm ? args.path.replace(/\.mjs$/, ".js") : args.path),
      );
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (builtins.has(args.path)) return { external: true };
        const pkg = packageOf(args.path);
        if (pkg.startsWith("@postern/")) return undefined;
        if (optional.includes(pkg)) return { external: true };
        if (bundleNpm && !external.includes(pkg)) return undefined;
        return keepOut(args, pkg);
      });
    },
  };
}

/**
 * esbuild plugin: `import.meta.dirname` means "the folder of this source file"; in a bundle it
 * would mean the bundle's folder. Rewrite it to the source folder, relative to the bundle, so
 * paths such as the Prisma migrations folder keep pointing where they did.
 */
function sourceDirname(outDir) {
  return {
    name: "postern-source-dirname",
    setup(build) {
      build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, (args) => {
        if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        const text = fs.readFileSync(args.path, "utf8");
        if (!text.includes("import.meta.dirname")) return undefined;
        const fromBundle = path.relative(outDir, path.dirname(args.path)).split(path.sep).join("/") || ".";
        return {
          contents: text.replaceAll("import.meta.dirname", `__postern_source_dir(${JSON.stringify(fromBundle)})`),
          loader: path.extname(args.path).slice(1).replace(/^[cm]/, ""),
        };
      });
    },
  };
}

const bundles = {
  api: {
    app: "apps/api",
    entry: "src/cli/main.ts",
    out: "postern.cjs",
    format: "cjs",
    bundleNpm: true,
    // Native addons; and packages that serve their own files at run time.
    external: ["better-sqlite3", "argon2", "@ngrok/ngrok", "@fastify/swagger-ui"],
    optional: ["pg-native", "bufferutil", "utf-8-validate"],
    codeCache: true,
  },
  agent: { app: "apps/agent", entry: "src/index.ts", out: "postern-agent.mjs", format: "esm", bundleNpm: false },
};

async function buildBundle(name) {
  const spec = bundles[name];
  const appDir = path.join(root, spec.app);
  const outDir = path.join(appDir, "dist");
  const outFile = path.join(outDir, spec.out);
  const esbuild = await import("esbuild");
  fs.rmSync(outDir, { recursive: true, force: true });
  const cjs = spec.format === "cjs";
  const result = await esbuild.build({
    absWorkingDir: appDir,
    entryPoints: [spec.entry],
    outfile: outFile,
    bundle: true,
    format: spec.format,
    platform: "node",
    target: "node20.19",
    // A CommonJS script run by `vm.Script` has no import(): esbuild turns every dynamic import
    // into a require (the lazy server import stays lazy).
    supported: cjs ? { "dynamic-import": false } : {},
    // Whitespace only: stack traces keep their function names.
    minifyWhitespace: cjs,
    // Licence comments go to a file beside the bundle, which stays ASCII (esbuild escapes the
    // rest), so the launcher can read it as latin1: a one-byte string, no UTF-8 decoding.
    legalComments: "external",
    charset: "ascii",
    sourcemap: "linked",
    sourcesContent: false,
    metafile: true,
    logLevel: "warning",
    logOverride: { "empty-import-meta": "silent" },
    tsconfig: path.join(appDir, "tsconfig.json"),
    define: cjs ? { "import.meta.url": "__postern_import_meta_url" } : {},
    banner: {
      js: cjs
        ? [
            `const __postern_import_meta_url = require("node:url").pathToFileURL(__filename).href;`,
            `const __postern_source_dir = (p) => require("node:path").resolve(__dirname, p);`,
          ].join("\n")
        : [
            `import { fileURLToPath as __postern_fileURLToPath } from "node:url";`,
            `const __postern_source_dir = (p) => __postern_fileURLToPath(new URL(p + "/", import.meta.url)).replace(/[\\\\/]$/, "");`,
          ].join("\n"),
    },
    plugins: [externals({ outDir, appName: `${spec.app}/package.json`, ...spec }), sourceDirname(outDir)],
  });
  // esbuild's service process would otherwise live on beside the server `pnpm start` runs.
  await esbuild.stop();
  if (spec.codeCache) {
    const bin = path.join(appDir, "bin", "postern.mjs");
    const warm = spawnSync(process.execPath, [bin, "--write-code-cache"], { cwd: appDir, stdio: ["ignore", 2, "inherit"] });
    if (warm.status !== 0) throw new Error(`${name}: recording the code cache failed (see above)`);
  }
  // Dependencies' own files are covered by the lockfile and the patches.
  const inputs = Object.keys(result.metafile.inputs)
    .filter((p) => !p.includes("node_modules/"))
    .map((p) => path.resolve(appDir, p));
  writeStamp(outDir, [...inputs, path.join(appDir, "package.json"), ...(spec.codeCache ? [path.join(appDir, "bin", "postern.mjs")] : []), ...common]);
}

// ---- main ----

/** Builds the targets whose inputs changed; resolves when all are up to date. */
export async function ensureBuilt(targets = ["web", "api", "agent"], options = {}) {
  if (options.quiet !== undefined) quiet = options.quiet;
  for (const t of targets) if (t !== "web" && !(t in bundles)) throw new Error(`unknown build target "${t}" (web, api, agent)`);
  for (const target of targets) {
    const started = performance.now();
    if (target === "web") {
      if (!options.force && upToDate(path.join(webDir, "dist"), ["index.html"], webInputs())) continue;
      note("the web app's sources changed: building it (vite)");
      buildWeb();
    } else {
      const spec = bundles[target];
      const outDir = path.join(root, spec.app, "dist");
      if (!options.force && upToDate(outDir, [spec.out, ...(spec.codeCache ? [`${spec.out}.cache`] : [])])) continue;
      note(`${target}: sources changed, bundling`);
      await buildBundle(target);
    }
    note(`${target} built in ${Math.round(performance.now() - started)} ms`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const wanted = args.filter((a) => !a.startsWith("--"));
  await ensureBuilt(wanted.length > 0 ? wanted : undefined, { force });
}
