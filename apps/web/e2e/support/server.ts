// Browser tests run the real server (the CLI's `serve`) on a fresh SQLite database in a temp
// directory; playwright.config.ts points Playwright at Debian's Chromium.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const repoRoot = path.resolve(import.meta.dirname, "../../../..");
const require = createRequire(path.join(repoRoot, "apps/api/package.json"));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export interface RunningServer {
  url: string;
  admin: { username: string; password: string };
  dataDir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startServer(env: Record<string, string> = {}): Promise<RunningServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-e2e-"));
  // A test that must know the URL before the server starts (OIDC redirect URIs) passes PORT.
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const webDir = path.join(repoRoot, "apps/web/dist");
  if (!fs.existsSync(path.join(webDir, "index.html"))) {
    throw new Error("apps/web/dist is missing: the e2e script builds it first (`pnpm --filter @postern/web e2e`)");
  }
  const child = spawn(process.execPath, [require.resolve("tsx/cli"), "apps/api/src/cli/index.ts", "serve"], {
    cwd: repoRoot,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      POSTERN_DATA_DIR: dataDir,
      DATABASE_URL: `file:${path.join(dataDir, "postern.db")}`,
      POSTERN_WEB_DIR: webDir,
      POSTERN_LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok && /password\s+\S+/.test(output)) break;
    if (Date.now() > deadline) throw new Error(`server did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const password = /password\s+(\S+)/.exec(output)?.[1] ?? "";
  return {
    url,
    admin: { username: "admin", password },
    dataDir,
    process: child,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
