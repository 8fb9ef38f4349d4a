// `postern migrate` and `postern serve` as real processes on an empty SQLite file and an empty
// PostgreSQL database: the first start prints how to log in (once), and administration
// commands keep working while the server runs.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase } from "@postern/db";
import { pgAdmin, pgUrl, providers } from "../../test/databases";
import { postern, spawnPostern } from "../../test/cli";
import { freePort } from "../../test/serve";


/** Starts `postern serve`, waits until it listens, and returns its stdout so far and a stop function. */
async function serve(env: Record<string, string>, cwd: string) {
  const child = spawnPostern(["serve"], { POSTERN_LOG_LEVEL: "info", ...env }, cwd);
  child.stdin.end();
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${stdout}\n${stderr}`)), 180_000);
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes("Postern is serving")) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
  return {
    stdout: () => stdout,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

describe.each(providers)("postern migrate and serve on %s", (provider) => {
  let cwd: string;
  let url: string;
  let dbName: string | undefined;

  beforeEach(async () => {
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), "postern-serve-"));
    if (provider === "sqlite") {
      url = `file:${path.join(cwd, "data", "postern.db")}`;
    } else {
      dbName = `postern_t_${process.env.POSTERN_TEST_RUN_ID ?? process.pid}_serve_${Math.random().toString(36).slice(2, 8)}`;
      await pgAdmin((c) => c.query(`CREATE DATABASE "${dbName}"`));
      url = pgUrl(dbName);
    }
  });
  afterEach(async () => {
    fs.rmSync(cwd, { recursive: true, force: true });
    if (dbName) await pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
  });

  it("migrates an empty database, prints the first admin's login once, and serves it", { timeout: 400_000 }, async () => {
    const migrated = await postern(["migrate"], { DATABASE_URL: url }, cwd);
    expect(migrated.stderr).toBe("");
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toMatch(/^database is up to date/);
    const again = await postern(["migrate"], { DATABASE_URL: url }, cwd);
    expect(again.code).toBe(0);

    const port = await freePort();
    const env = { DATABASE_URL: url, PORT: String(port), HOST: "127.0.0.1", POSTERN_DATA_DIR: path.join(cwd, "data"), POSTERN_WEB_DIR: "/nonexistent" };
    const first = await serve(env, cwd);
    try {
      const out = first.stdout();
      expect(out).toContain("First start: an admin account was created.");
      expect(out).toContain(`open      http://localhost:${port}`);
      const username = /username {2}(\S+)/.exec(out)?.[1];
      const password = /password {2}(\S+)/.exec(out)?.[1];
      expect(username).toBe("admin");
      expect(password).toMatch(/^\S{16,}$/);

      // The printed credentials log in on the running server.
      const login = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password }),
      });
      expect(login.status).toBe(200);
      expect(((await login.json()) as { permissions: string[] }).permissions).toContain("admin");

      // Administration commands work beside the running server (no migration, no "database busy").
      const added = await postern(["user", "add", "beside", "--password", "beside-the-server"], env, cwd);
      expect(added.stderr).toBe("");
      expect(added.code).toBe(0);
      const listed = await postern(["user", "list"], env, cwd);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/^admin\s+admin\s+active/m);
      expect(listed.stdout).toMatch(/^beside\s+member\s+active/m);
    } finally {
      await first.stop();
    }

    const second = await serve(env, cwd);
    const secondOut = second.stdout();
    await second.stop();
    expect(secondOut).not.toContain("First start");
    expect(secondOut).not.toContain("password");

    const database = await openDatabase(url);
    try {
      expect(await database.db.user.count({ where: { role: "admin" } })).toBe(1);
    } finally {
      await database.close();
    }
  });

  it("fails with one line on stderr when the database cannot be reached", { timeout: 240_000 }, async () => {
    const bad = provider === "sqlite" ? `file:${path.join(cwd, "is-a-file", "postern.db")}` : pgUrl("postern_no_such_database_here");
    if (provider === "sqlite") fs.writeFileSync(path.join(cwd, "is-a-file"), "not a directory");
    const res = await postern(["user", "list"], { DATABASE_URL: bad }, cwd);
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe("");
    expect(res.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(res.stderr).toMatch(/^postern: /);
  });
});
