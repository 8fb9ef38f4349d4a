// Runs a real `postern serve` process for tests: from the sources (tsx, the default) or from
// the compiled build (`node apps/api/bin/postern.mjs`, as the Docker image and systemd run it),
// on a free loopback port, and waits until /readyz answers 200.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import net from "node:net";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
export const repoRoot = path.resolve(import.meta.dirname, "../../..");
const cliSource = path.join(repoRoot, "apps/api/src/cli/index.ts");
export const compiledBin = path.join(repoRoot, "apps/api/bin/postern.mjs");

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface ServeOptions {
  env: Record<string, string>;
  cwd: string;
  /** "source" (tsx) or "compiled" (plain node on the build); default "source". */
  build?: "source" | "compiled";
  /** The command line instead of `node …` (e.g. wrapped in `script` for a terminal). */
  wrap?: (command: string[]) => string[];
  timeoutMs?: number;
}

export interface ServeProcess {
  url: string;
  port: number;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout or stderr contains `text`. */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then waits for the exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Builds the API bundle when its sources changed (what `pnpm start` does before serving). */
export function buildCompiled(): void {
  const result = spawnSync(process.execPath, [path.join(repoRoot, "scripts/build.mjs"), "api", "--quiet"], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`the build failed:\n${result.stdout}\n${result.stderr}`);
}

/** From the sources as `node --import tsx`, not the tsx CLI: the CLI relays signals to a child
 * and reports 143 for a SIGTERM the busy child took more than 30 ms to acknowledge, hiding the
 * server's own exit code. */
export function posternCommand(build: "source" | "compiled", args: string[]): string[] {
  if (build === "compiled") return [process.execPath, compiledBin, ...args];
  return [process.execPath, "--import", pathToFileURL(require.resolve("tsx")).href, cliSource, ...args];
}

export async function startServe(options: ServeOptions): Promise<ServeProcess> {
  const port = options.env.PORT ? Number(options.env.PORT) : await freePort();
  const command = posternCommand(options.build ?? "source", ["serve"]);
  const [file, ...args] = options.wrap ? options.wrap(command) : command;
  const child = spawn(file!, args, {
    cwd: options.cwd,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      HOST: "127.0.0.1",
      PORT: String(port),
      POSTERN_WEB_DIR: "/nonexistent",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postern serve exited with ${child.exitCode}:\n${stdout}\n${stderr}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`postern serve was not ready in time:\n${stdout}\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    waitForOutput: async (text, timeoutMs = 10_000) => {
      const until = Date.now() + timeoutMs;
      const seen = () => (typeof text === "string" ? (stdout + stderr).includes(text) : text.test(stdout + stderr));
      while (!seen()) {
        if (Date.now() > until) throw new Error(`no ${String(text)} in the output:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** The first admin's login, as a first start prints it (`    username  …`, `    password  …`);
 * undefined before the banner is out. */
export function firstAdminOf(output: string): { username: string; password: string } | undefined {
  const username = /username {2}(\S+)/.exec(output)?.[1];
  const password = /password {2}(\S+)/.exec(output)?.[1];
  return username && password ? { username, password } : undefined;
}

/** The headers a browser's requests would carry (the login cookie, the CSRF header, a JSON body). */
export type BrowserHeaders = { cookie: string; "x-postern-csrf": string; "content-type": string };

/** Logs in as the admin a first start printed, on the server at `url`. */
export async function loginWithBanner(url: string, output: string): Promise<BrowserHeaders> {
  const admin = firstAdminOf(output);
  if (!admin) throw new Error(`no first-admin login in the output:\n${output}`);
  const login = await fetch(`${url}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(admin),
  });
  if (login.status !== 200) throw new Error(`the first admin's login was answered ${login.status}: ${await login.text()}`);
  return { cookie: (login.headers.get("set-cookie") ?? "").split(";")[0]!, "x-postern-csrf": "1", "content-type": "application/json" };
}

/** Logs in as the admin the server's first start printed, once the banner is out. */
export async function loginAsFirstAdmin(server: ServeProcess): Promise<BrowserHeaders> {
  await server.waitForOutput(/password {2}\S+/);
  return loginWithBanner(server.url, server.stdout());
}
