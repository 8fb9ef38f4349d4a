// Start-up benchmark: how long `postern serve` takes from process start to `/readyz` answering
// 200 on an already-migrated database, and its resident memory once idle. In the same run, a
// plain `node:http` server started the same way is the baseline (machine noise shows in it).
//
//   pnpm bench:startup                     # compiled build (node apps/api/bin/postern.mjs), SQLite
//   pnpm bench:startup --runs=7 --tsx      # also the development path (node --import tsx src/…)
//   pnpm bench:startup --db=postgres       # PostgreSQL at 127.0.0.1:5432 (BENCH_PG_URL to change)
//
// Plain JavaScript so it runs with nothing but `node` after `pnpm build`.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const root = path.resolve(import.meta.dirname, "../..");
const args = process.argv.slice(2);
const runs = Number(args.find((a) => a.startsWith("--runs="))?.split("=")[1] ?? 5);
const idleSeconds = Number(args.find((a) => a.startsWith("--idle="))?.split("=")[1] ?? 5);
const withTsx = args.includes("--tsx");
const db = args.includes("--db=postgres") ? "postgres" : "sqlite";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function rssMb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function readyOnce(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/readyz", agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
  });
}

/** Starts the command, polls /readyz every 5 ms; resolves with ms-to-ready and idle RSS. */
async function measure(command, commandArgs, env) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(command, commandArgs, {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${output}`);
      if (performance.now() - started > 120_000) throw new Error(`not ready within 120 s:\n${output}`);
      if (await readyOnce(port)) break;
      await sleep(5);
    }
    const readyMs = performance.now() - started;
    await sleep(idleSeconds * 1000);
    return { readyMs, rss: rssMb(child.pid) };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function series(label, command, commandArgs, env) {
  const results = [];
  await measure(command, commandArgs, env); // warm the file cache (and, the first time, migrate)
  for (let i = 0; i < runs; i++) results.push(await measure(command, commandArgs, env));
  const ready = results.map((r) => r.readyMs);
  const rss = results.map((r) => r.rss);
  return { label, readyMs: median(ready), minMs: Math.min(...ready), maxMs: Math.max(...ready), rss: median(rss) };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-bench-startup-"));
const apiRequire = createRequire(path.join(root, "apps/api/package.json"));
let pgDatabase;
const adminUrl = process.env.BENCH_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
async function pgAdmin(sql) {
  const pg = apiRequire("pg");
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
try {
  let databaseUrl = `file:${path.join(dir, "postern.db")}`;
  if (db === "postgres") {
    pgDatabase = `postern_bench_startup_${process.pid}`;
    await pgAdmin(`CREATE DATABASE "${pgDatabase}"`);
    const url = new URL(adminUrl);
    url.pathname = `/${pgDatabase}`;
    databaseUrl = url.toString();
  }
  const env = { DATABASE_URL: databaseUrl, POSTERN_DATA_DIR: dir, POSTERN_LOG_FORMAT: "json", POSTERN_WEB_DIR: path.join(root, "apps/web/dist") };
  const built = spawnSync(process.execPath, [path.join(root, "scripts/build.mjs"), "api", "--quiet"], { stdio: "inherit" });
  if (built.status !== 0) throw new Error("the build failed");

  const baselineScript = "require('http').createServer((q,s)=>s.end('ok')).listen(Number(process.env.PORT),process.env.HOST)";
  const rows = [await series("plain node:http server (baseline)", process.execPath, ["-e", baselineScript], {})];
  rows.push(await series(`postern serve, compiled (${db})`, process.execPath, ["apps/api/bin/postern.mjs", "serve"], env));
  if (withTsx) {
    const tsx = apiRequire.resolve("tsx");
    rows.push(await series(`postern serve, tsx (${db})`, process.execPath, ["--import", tsx, "apps/api/src/cli/index.ts", "serve"], env));
  }
  const cpu = os.cpus();
  console.log(`\nstart-up to /readyz 200, median of ${runs} (min–max); RSS after ${idleSeconds} s idle`);
  console.log(`machine: ${cpu.length} × ${cpu[0]?.model ?? "cpu"}, Node ${process.version}, load ${os.loadavg()[0].toFixed(2)}`);
  console.log("| process | ready ms | min–max ms | idle RSS MB |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(`| ${r.label} | ${r.readyMs.toFixed(0)} | ${r.minMs.toFixed(0)}–${r.maxMs.toFixed(0)} | ${r.rss.toFixed(1)} |`);
  }
  // Issue 11's targets for the compiled server, as bench/lib/targets.ts prints them for the others.
  const compiled = rows[1];
  const verdicts = [
    { target: "postern serve ready (readyz 200) < 1 s after start", held: compiled.readyMs < 1000, measured: `${compiled.readyMs.toFixed(0)} ms (median)` },
    { target: "idle RSS < 120 MB", held: compiled.rss < 120, measured: `${compiled.rss.toFixed(1)} MB` },
  ];
  const missed = verdicts.filter((v) => !v.held).length;
  console.log(`\nAgainst the targets of issue 11, in this run (${missed === 0 ? "all held" : `${missed} of ${verdicts.length} missed`}):`);
  for (const v of verdicts) console.log(`  ${v.held ? "✓" : "✗"} ${v.target}: ${v.measured}`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
  if (pgDatabase) await pgAdmin(`DROP DATABASE IF EXISTS "${pgDatabase}" WITH (FORCE)`);
}
