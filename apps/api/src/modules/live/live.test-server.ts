// Runs a real `postern serve` subprocess for tests that need separate API processes.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { freePort } from "../../../test/serve";

const require = createRequire(import.meta.url);
const cli = path.resolve(import.meta.dirname, "../../cli/index.ts");

export interface ServerProcess {
  url: string;
  /** Everything the process printed. */
  output(): string;
  stop(): Promise<void>;
}


export async function startServerProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<ServerProcess> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-serve-"));
  const child: ChildProcess = spawn(process.execPath, [require.resolve("tsx/cli"), cli, "serve"], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "",
      HOST: "127.0.0.1",
      PORT: String(port),
      POSTERN_DATA_DIR: dir,
      POSTERN_WEB_DIR: "/nonexistent",
      POSTERN_LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`postern serve did not start:\n${output}`)), timeoutMs);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes("Postern is serving")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`postern serve exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
