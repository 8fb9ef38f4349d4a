// Starts real `postern serve` processes on a fresh database for the benchmarks, and small helpers
// they share (free ports, RSS, percentiles, calling the API).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const root = path.resolve(import.meta.dirname, "../..");
/** Loads a dependency of the API (`pg`, `better-sqlite3`), which the repository root does not have. */
export const apiRequire = createRequire(path.join(root, "apps/api/package.json"));

/** The little of `pg` used here (it is a dependency of the API, not of the repository root). */
interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}
export type PgModule = { Client: new (options: { connectionString: string }) => PgClient };

export type BenchDb = "sqlite" | "postgres";

export function dbOf(argv: string[]): BenchDb {
  return argv.includes("--db=postgres") ? "postgres" : "sqlite";
}

/** The number given as `--name=N` on the command line, or `fallback`. */
export function numberOption(argv: string[], name: string, fallback: number): number {
  return Number(argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
}

/**
 * CPU time a process has used so far (user + system), in milliseconds. Per request, this is the
 * figure a busy shared machine disturbs least: throughput falls when other work takes the cores,
 * the CPU a request costs does not.
 */
export function cpuMs(pid: number): number {
  try {
    // Fields 14 and 15 (utime, stime) in clock ticks; the command name (field 2) may hold spaces.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** CPU time of every PostgreSQL server process on the machine (its backends live as long as the
 * pools that opened them, so a difference over a run is that run's database work). */
export function postgresCpuMs(): number {
  let total = 0;
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "postgres") total += cpuMs(Number(pid)) || 0;
    } catch {
      // Gone between the listing and the read.
    }
  }
  return total;
}

/** The PostgreSQL server the benchmarks make their databases on (`BENCH_PG_URL`). */
const pgAdminUrl = () => process.env.BENCH_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

/** One statement on its own connection to that server, as its admin. */
async function pgAdminQuery(sql: string): Promise<unknown> {
  const pg = apiRequire("pg") as PgModule;
  const c = new pg.Client({ connectionString: pgAdminUrl() });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

/** PostgreSQL's WAL flushes so far, server-wide (`pg_stat_wal`; each backend adds its count at
 * least once a second while busy, so a window's count lags by about that at both ends). */
export async function postgresWalSyncs(): Promise<number> {
  const result = (await pgAdminQuery("SELECT wal_sync::float8 AS n FROM pg_stat_wal")) as { rows: { n: number }[] };
  return Number(result.rows[0]?.n);
}

export function rssMb(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export interface Stats {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

export function statsOf(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN, samples: sorted.length };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export function spawnNode(args: string[], env: Record<string, string>, cwd: string): ChildProcess {
  return spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

export interface ApiProcess {
  url: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

export interface ApiCluster {
  instances: ApiProcess[];
  databaseUrl: string;
  /** The first admin's login cookie (`postern_session=…`). */
  cookie: string;
  admin: { username: string; password: string };
  stop(): Promise<void>;
}

/** The server entry: the compiled build, brought up to date as `pnpm start` does, unless BENCH_TSX
 * asks for the TypeScript sources through tsx. */
async function serverArgs(): Promise<string[]> {
  if (process.env.BENCH_TSX) return ["--import", import.meta.resolve("tsx"), path.join(root, "apps/api/src/cli/index.ts"), "serve"];
  await ensureBuilt(["api"]);
  return [path.join(root, "apps/api/bin/postern.mjs"), "serve"];
}

/** Brings the compiled builds of these apps up to date, as `pnpm start` does (scripts/build.mjs). */
export async function ensureBuilt(targets: string[]): Promise<void> {
  const build = (await import(path.join(root, "scripts/build.mjs"))) as { ensureBuilt(targets: string[]): Promise<void> };
  await build.ensureBuilt(targets);
}

async function startInstance(databaseUrl: string, dir: string, env: Record<string, string>): Promise<ApiProcess> {
  const port = await freePort();
  // BENCH_PROFILE=<dir>: each server writes a CPU profile there when it stops (node --cpu-prof).
  const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(process.env.BENCH_PROFILE)}`] : [];
  // BENCH_NODE_FLAGS="--log-deopt …": node and V8 flags for the servers only, while investigating
  // (NODE_OPTIONS would reach the load generator too, and takes few of V8's flags).
  const flags = process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
  const child = spawnNode(
    [...profile, ...flags, ...(await serverArgs())],
    {
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      POSTERN_DATA_DIR: dir,
      POSTERN_LOG_LEVEL: "warn",
      POSTERN_WEB_DIR: "/nonexistent",
      ...env,
    },
    dir,
  );
  let output = "";
  // BENCH_SERVER_LOG=<dir>: each server's output (with BENCH_NODE_FLAGS="--trace-deopt", say) in
  // <dir>/<pid>.log, whole; the benchmark keeps it only to show when a server fails to start.
  const log = process.env.BENCH_SERVER_LOG ? fs.createWriteStream(path.join(path.resolve(process.env.BENCH_SERVER_LOG), `${child.pid}.log`)) : undefined;
  child.stdout?.on("data", (d: Buffer) => (log?.write(d), (output += d.toString())));
  child.stderr?.on("data", (d: Buffer) => (log?.write(d), (output += d.toString())));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the API exited:\n${output}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 1200) throw new Error(`the API did not start:\n${output}`);
    await sleep(50);
  }
  return {
    url,
    pid: child.pid ?? 0,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** `n` API processes on one fresh database (PostgreSQL for more than one), the first admin logged in. */
export async function startApi(db: BenchDb, n = 1, env: Record<string, string> = {}): Promise<ApiCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-bench-"));
  let databaseUrl = `file:${path.join(dir, "postern.db")}`;
  let dropDb = async () => {};
  if (db === "postgres") {
    const name = `postern_bench_${process.pid}_${Date.now()}`;
    await pgAdminQuery(`CREATE DATABASE ${name}`);
    const url = new URL(pgAdminUrl());
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    dropDb = () => pgAdminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined);
  }
  const instances: ApiProcess[] = [];
  const stop = async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await dropDb();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // Instances behind one URL share the signing secret, as the README's multi-instance set-up says:
  // a login made on one must be valid on the others.
  env = { POSTERN_SECRET: randomBytes(48).toString("base64url"), ...env };
  try {
    // The first one migrates the database and creates the first admin; the others join it.
    instances.push(await startInstance(databaseUrl, dir, env));
    for (let i = 1; i < n; i++) instances.push(await startInstance(databaseUrl, fs.mkdtempSync(path.join(dir, "i-")), env));
    const out = instances[0]!.output();
    const username = /username\s+(\S+)/.exec(out)?.[1] ?? "";
    const password = /password\s+(\S+)/.exec(out)?.[1] ?? "";
    const cookie = await login(instances[0]!.url, username, password);
    return { instances, databaseUrl, cookie, admin: { username, password }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Logs in and returns the `postern_session=…` cookie. */
export async function login(url: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login of ${username} failed: ${res.status} ${await res.text()}`);
  return (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
}

/** Calls the API with a login cookie (and the CSRF header) or a bearer token; fails on non-2xx. */
export async function call<T = { id: string }>(
  url: string,
  auth: { cookie: string } | { token: string },
  method: string,
  pathAndQuery: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> =
    "cookie" in auth ? { cookie: auth.cookie, "x-postern-csrf": "1" } : { authorization: `Bearer ${auth.token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${url}${pathAndQuery}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${pathAndQuery}: ${res.status} ${await res.text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** Statements the process has sent to its database so far (from /metrics). */
export async function queriesSent(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^postern_db_queries_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** Plain Fastify's hello-world (bench/api/hello-server.mjs) in its own process: the baseline. */
export async function startHello(): Promise<{ url: string; pid: number; stop: () => void }> {
  const dir = path.join(root, "bench/api");
  const child = spawnNode([path.join(dir, "hello-server.mjs")], {}, dir);
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`baseline exited ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}/`, pid: child.pid!, stop: () => child.kill("SIGTERM") };
}

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? "CPU"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}
