// The container's smoke tests, run here without a Docker engine: the image's own start command
// (read from docker/Dockerfile: plain node on the compiled build) as two replicas with the
// compose file's environment on an empty PostgreSQL database, behind the shipped nginx
// configuration; and `pnpm start` on SQLite. Against each, scripts/smoke.mjs (log in, a session
// started and ended and received on /api/live, the audit chain) and, where Chromium is
// installed, scripts/browser-smoke.mjs — the same scripts the container workflow runs.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { imageRuntime, interpolate, readCompose } from "../test/deploy";
import { pgAdmin, pgUrl } from "../test/databases";
import { nginxBin, renderNginxConf } from "../test/nginx";
import { firstAdminOf, freePort, repoRoot } from "../test/serve";

const chromium = [process.env.POSTERN_CHROMIUM, "/usr/bin/chromium", "/usr/bin/google-chrome"].find((p) => p && fs.existsSync(p));
const children: ChildProcess[] = [];
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const cleanup of cleanups.reverse()) await cleanup();
}, 60_000);

interface Proc {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** Every line it wrote has been read (read `output()` after this, not after `exited`). */
  closed: Promise<void>;
}

function start(command: string[], options: { cwd: string; env: Record<string, string>; group?: boolean }): Proc {
  const child = spawn(command[0]!, command.slice(1), {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.group ?? false,
  });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  // A process may exit before its last lines are read from the pipes: 'close' comes after them.
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  return { child, output: () => output, exited, closed };
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms: number, proc?: Proc): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (proc && proc.child.exitCode !== null) throw new Error(`${what}: the process exited with ${proc.child.exitCode}:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s${proc ? `:\n${proc.output()}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ready = (url: string) => () => fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);

/** Runs one of the smoke scripts to completion; resolves with its exit code and output. */
function smoke(script: "smoke.mjs" | "browser-smoke.mjs", env: Record<string, string>, args: string[] = []) {
  const result = spawnSync(process.execPath, [path.join(repoRoot, "scripts", script), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 180_000,
  });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

function build(targets: string[]): void {
  const result = spawnSync(process.execPath, [path.join(repoRoot, "scripts/build.mjs"), ...targets, "--quiet"], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`the build failed:\n${result.stdout}\n${result.stderr}`);
}

describe("the image's start command, outside a container", () => {
  it("two replicas on an empty PostgreSQL database behind nginx pass the smoke tests, and stop cleanly", { timeout: 600_000 }, async () => {
    build(["web", "api"]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-image-"));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const dbName = `postern_t_${process.env.POSTERN_TEST_RUN_ID ?? process.pid}_image_${Math.random().toString(36).slice(2, 8)}`;
    await pgAdmin((c) => c.query(`CREATE DATABASE "${dbName}"`));
    cleanups.push(() => pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`)));

    // The environment compose gives api-1, with the database and the data volume swapped for ours.
    const runtime = imageRuntime();
    const compose = interpolate(readCompose(), { POSTGRES_PASSWORD: "unused", POSTERN_SECRET: `image-secret-${"x".repeat(40)}` }) as {
      services: Record<string, { environment: Record<string, string> }>;
    };
    const env = {
      ...runtime.env,
      ...compose.services["api-1"]!.environment,
      DATABASE_URL: pgUrl(dbName),
      POSTERN_DATA_DIR: path.join(dir, "data"),
      HOST: "127.0.0.1",
    };
    expect(env).toMatchObject({ NODE_ENV: "production", POSTERN_TRUST_PROXY: "1", POSTERN_LOG_FORMAT: "json" });
    expect(runtime.command).toEqual(["node", "bin/postern.mjs", "serve"]);

    // Both replicas start at once, as compose starts them: the first applies the migrations.
    const ports = [await freePort(), await freePort()];
    const apis = ports.map((port) => start(runtime.command, { cwd: runtime.cwd, env: { ...env, PORT: String(port) } }));
    await Promise.all(apis.map((api, i) => until(`replica ${i + 1} ready`, ready(`http://127.0.0.1:${ports[i]}`), 240_000, api)));
    expect(apis.map((a) => a.output()).join("\n")).toMatch(/applying \d+ database migration/);

    // `docker compose exec api-1 node bin/postern.mjs user add …`, as the workflow does.
    const password = `smoke-${Math.random().toString(36).slice(2)}-password`;
    const admin = spawnSync(runtime.command[0]!, [runtime.command[1]!, "user", "add", "smoke-admin", "--password", password, "--admin"], {
      cwd: runtime.cwd,
      env: { PATH: process.env.PATH ?? "", ...env },
      encoding: "utf8",
    });
    expect(admin.stderr).toBe("");
    expect(admin.status).toBe(0);

    let base = `http://127.0.0.1:${ports[0]}`;
    if (nginxBin) {
      const prefix = path.join(dir, "nginx");
      fs.mkdirSync(path.join(prefix, "conf"), { recursive: true });
      fs.mkdirSync(path.join(prefix, "logs"));
      for (const t of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) fs.mkdirSync(path.join(prefix, "temp", t), { recursive: true, mode: 0o777 });
      const nginxPort = await freePort();
      const shipped = fs.readFileSync(path.join(repoRoot, "docker/nginx.conf"), "utf8");
      fs.writeFileSync(path.join(prefix, "conf/nginx.conf"), renderNginxConf(shipped, { prefix, listen: nginxPort, upstreams: ports }));
      fs.copyFileSync(path.join(repoRoot, "docker/postern.locations.conf"), path.join(prefix, "conf/postern.locations.conf"));
      const nginx = start([nginxBin, "-p", prefix, "-c", path.join(prefix, "conf/nginx.conf"), "-g", "daemon off;"], { cwd: dir, env: {} });
      cleanups.push(() => nginx.child.kill("SIGQUIT"));
      base = `http://127.0.0.1:${nginxPort}`;
      await until("nginx", ready(base), 15_000, nginx);
    } else {
      console.warn("no nginx here (Debian: apt-get install nginx): the smoke test talks to the first replica directly");
    }

    // In through nginx, the live stream read from the other replica directly: the event crosses instances.
    const credentials = { POSTERN_SMOKE_URL: base, POSTERN_SMOKE_USER: "smoke-admin", POSTERN_SMOKE_PASSWORD: password };
    const run = smoke("smoke.mjs", credentials, ["--live-url", `http://127.0.0.1:${ports[1]}`]);
    expect(run.output).toMatch(/smoke: all good/);
    expect(run.code).toBe(0);

    if (chromium) {
      const browser = smoke("browser-smoke.mjs", { ...credentials, POSTERN_CHROMIUM: chromium });
      expect(browser.output).toMatch(/browser smoke: all good/);
      expect(browser.code).toBe(0);
    } else {
      console.warn("no Chromium here (POSTERN_CHROMIUM, or Debian: apt-get install chromium): the browser smoke test is skipped");
    }

    // One replica stops (docker compose stop): it drains and exits 0; the stack still passes.
    apis[1]!.child.kill("SIGTERM");
    expect(await apis[1]!.exited).toBe(0);
    await apis[1]!.closed;
    expect(apis[1]!.output()).toMatch(/"msg":"shut down cleanly"/);
    if (nginxBin) {
      const again = smoke("smoke.mjs", credentials);
      expect(again.output).toMatch(/smoke: all good/);
    }
    apis[0]!.child.kill("SIGTERM");
    expect(await apis[0]!.exited).toBe(0);
  });
});

describe("pnpm start", () => {
  it("builds what changed, serves the API and the SPA, prints the first admin's login, and passes the smoke test", { timeout: 600_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-start-"));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const scripts = (JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    // What `pnpm start` runs, from the repository root (pnpm only adds its own process around it).
    const command = scripts.start!.split(" ");
    expect(command[0]).toBe("node");
    command[0] = process.execPath;
    const port = await freePort();
    const server = start(command, {
      cwd: repoRoot,
      group: true,
      env: { PORT: String(port), HOST: "127.0.0.1", POSTERN_DATA_DIR: path.join(dir, "data"), DATABASE_URL: `file:${path.join(dir, "data", "postern.db")}` },
    });
    const base = `http://127.0.0.1:${port}`;
    await until("pnpm start", ready(base), 300_000, server);
    await until("the first-start banner", () => firstAdminOf(server.output()) !== undefined, 10_000, server);
    const { password } = firstAdminOf(server.output())!;

    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<div id="root">/);

    const run = smoke("smoke.mjs", { POSTERN_SMOKE_URL: base, POSTERN_SMOKE_USER: "admin", POSTERN_SMOKE_PASSWORD: password });
    expect(run.output).toMatch(/smoke: all good/);
    expect(run.code).toBe(0);

    process.kill(-server.child.pid!, "SIGTERM");
    expect(await server.exited).toBe(0);
  });
});
