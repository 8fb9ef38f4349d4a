// `postern serve` on a data directory it cannot write names the cause and who it runs as,
// instead of failing later inside SQLite or the migration engine with a borrowed error.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const cliEntry = path.resolve(import.meta.dirname, "index.ts");
const isRoot = process.getuid?.() === 0;

function serve(dataDir: string, as?: { uid: number; gid: number }): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [require.resolve("tsx/cli"), cliEntry, "serve"], {
      cwd: os.tmpdir(),
      env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir(), POSTERN_LOG_LEVEL: "silent", POSTERN_DATA_DIR: dataDir, PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
      ...as,
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    // 'close', not 'exit': a process may exit before its last lines are read from the pipe.
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

/** Mounts a read-only tmpfs; undefined (and the reason) where mounting is not permitted. */
function mountReadOnly(dir: string): string | undefined {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", dir], { stdio: "pipe" });
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs here (${(err as Error).message.split("\n")[0]})`;
  }
}

describe("postern serve on a data directory it cannot write", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "postern-dirs-"));
  const ro = path.join(root, "ro");
  let mountProblem: string | undefined;
  beforeAll(() => {
    fs.mkdirSync(ro);
    mountProblem = isRoot ? mountReadOnly(ro) : "not running as root, so no tmpfs can be mounted";
    if (mountProblem) console.warn(`read-only file system cases skipped: ${mountProblem}`);
  });
  afterAll(() => {
    if (!mountProblem) execFileSync("umount", [ro]);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("names a read-only file system, for a missing and for an existing directory", { timeout: 60_000 }, async (ctx) => {
    if (mountProblem) ctx.skip();
    const uid = process.getuid!();
    const missing = await serve(path.join(ro, "data"));
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`postern: cannot write ${path.join(ro, "data")}: read-only file system (running as uid ${uid})`);
    const existing = await serve(ro);
    expect(existing.code).toBe(1);
    expect(existing.stderr.trim()).toBe(`postern: cannot write ${ro}: read-only file system (running as uid ${uid})`);
  });

  it("names a permission problem and the uid it runs as", { timeout: 60_000 }, async (ctx) => {
    // Root writes everywhere: the refusal needs another user, which only root can become.
    if (!isRoot) ctx.skip();
    const owned = path.join(root, "owned");
    fs.mkdirSync(owned, { mode: 0o755 });
    fs.chmodSync(root, 0o755);
    const nobody = { uid: 65534, gid: 65534 };
    const result = await serve(owned, nobody);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`postern: cannot write ${owned}: permission denied (running as uid 65534)`);
  });
});
