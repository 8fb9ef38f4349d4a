// A full disk under a real SQLite server: writes answer a clean 503 `storage_full` (never a hang,
// never a 500), reads keep working — with an API token too, whose "last used" write is best
// effort — and writes succeed again within 2 s of space returning, without a restart.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZErrorBody } from "@postern/contracts";
import { createServices, Writers, type Auth } from "../test/fault-load";
import { loginAsFirstAdmin, startServe, type ServeProcess } from "../test/serve";

/** Mounts a 20 MB tmpfs; the reason when this machine does not allow it. */
function mountSmallVolume(dir: string): string | undefined {
  if (process.getuid?.() !== 0) return "not running as root, so no tmpfs can be mounted";
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=20m", "tmpfs", dir], { stdio: "pipe" });
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs here (${(err as Error).message.split("\n")[0]})`;
  }
}

/** Writes a file until the volume has no space left. */
function fill(file: string): void {
  const chunk = Buffer.alloc(256 * 1024);
  const fd = fs.openSync(file, "w");
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    fs.closeSync(fd);
  }
}

describe("a full disk under SQLite", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "postern-full-"));
  const vol = path.join(root, "vol");
  let mountProblem: string | undefined;
  let server: ServeProcess | undefined;

  beforeAll(() => {
    fs.mkdirSync(vol);
    mountProblem = mountSmallVolume(vol);
    if (mountProblem) console.warn(`disk-full test skipped: ${mountProblem}`);
  });
  afterAll(() => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
    if (!mountProblem) execFileSync("umount", ["-l", vol]);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("answers 503 storage_full while full, keeps reading, and writes again within 2 s of space returning", async (ctx) => {
    if (mountProblem) ctx.skip();
    server = await startServe({ env: { DATABASE_URL: `file:${path.join(vol, "postern.db")}`, POSTERN_DATA_DIR: vol }, cwd: root });
    const auth: Auth = await loginAsFirstAdmin(server);
    const services = await createServices(server.url, auth, 4);
    const headers = { cookie: auth.cookie, "x-postern-csrf": "1", "content-type": "application/json" };
    const tokenRes = await fetch(`${server.url}/api/tokens`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name: "reader", scopes: ["sessions:read"] }),
    });
    const token = ((await tokenRes.json()) as { token: string }).token;

    fill(path.join(vol, "filler"));
    const writers = new Writers(server.url, auth, services);
    const deadline = Date.now() + 60_000;
    while (!writers.unavailable.some((b) => b.includes("storage_full")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(writers.unavailable.some((b) => b.includes("storage_full")), JSON.stringify(Object.fromEntries(writers.outcomes))).toBe(true);

    // Full: reads answer, with a cookie and with a token (whose last-used write cannot be stored).
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${server.url}/api/services`, { headers })).status).toBe(200);
      expect((await fetch(`${server.url}/api/sessions?active=true`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    }
    const refused = await fetch(`${server.url}/api/groups`, { method: "POST", headers, body: JSON.stringify({ name: "while-full" }) });
    expect(refused.status).toBe(503);
    expect(ZErrorBody.parse(await refused.json()).error.code).toBe("storage_full");
    expect(writers.outcomes.get("500") ?? 0).toBe(0);

    fs.rmSync(path.join(vol, "filler"));
    const freedAt = Date.now();
    let healedAfter = Infinity;
    for (let i = 0; Date.now() - freedAt < 10_000; i++) {
      const res = await fetch(`${server.url}/api/groups`, { method: "POST", headers, body: JSON.stringify({ name: `after-${i}` }) });
      if (res.status === 201 || res.status === 200) {
        healedAfter = Date.now() - freedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    // The writers' successes, once failures have stopped for a while, say the disk has room again.
    await server.waitForOutput("database back");
    await writers.stop();
    console.log(
      `disk full: outcomes ${JSON.stringify(Object.fromEntries(writers.outcomes))}; a write succeeded ${healedAfter} ms after space returned`,
    );
    expect(healedAfter).toBeLessThanOrEqual(2_000);
    expect(writers.outcomes.get("500") ?? 0).toBe(0);
    // One line per state change, no stack trace per request.
    expect(server.stdout()).toMatch(/database unavailable: database or disk is full/);
    expect(server.stdout()).not.toMatch(/unhandled error/);
    expect(await server.stop()).toBe(0);
  });
});
