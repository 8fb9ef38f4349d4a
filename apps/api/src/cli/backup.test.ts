// Backups and moves, with the real CLI, real servers and real databases: a SQLite backup taken
// while the server writes restores into a database whose audit chain verifies; restore refuses
// to overwrite data without --force; PostgreSQL points at pg_dump; and the whole state moves
// from SQLite to PostgreSQL (users, services, sessions, the audit chain) and serves from there.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { exportLines, modelNames, openDatabase } from "@postern/db";
import { buildTestApp, createGroup, createService, createUser, type TestApp } from "../../test/app";
import { createTestDatabase, pgAdmin, pgUrl, withPgClient } from "../../test/databases";
import { postern, type CliResult } from "../../test/cli";
import { loginAsFirstAdmin, startServe, type ServeProcess } from "../../test/serve";

const PASSWORD = "correct horse battery";
const dirs: string[] = [];
const drops: (() => Promise<void>)[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-backup-"));
  dirs.push(dir);
  return dir;
}
async function freshPgDatabase(): Promise<string> {
  const name = `postern_t_${process.env.POSTERN_TEST_RUN_ID ?? process.pid}_move_${Math.random().toString(36).slice(2, 8)}`;
  await pgAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
  drops.push(() => pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined));
  return pgUrl(name);
}
afterAll(async () => {
  for (const drop of drops) await drop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** The tables of the database at `url` that hold rows and have never been analysed. */
async function unanalysedTables(url: string): Promise<string[]> {
  const { rows } = await withPgClient(url, (client) =>
    client.query<{ relname: string }>(
      `SELECT relname FROM pg_stat_user_tables WHERE n_live_tup > 0 AND last_analyze IS NULL AND last_autoanalyze IS NULL ORDER BY relname`,
    ),
  );
  return rows.map((r) => r.relname);
}

function expectOneLineFailure(result: CliResult, pattern: RegExp): void {
  expect(result.code).not.toBe(0);
  expect(result.stdout).toBe("");
  expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(result.stderr).toMatch(pattern);
}

/** Every row of every model, as comparable lines (the export's own encoding), sorted. */
async function allRows(url: string): Promise<string[]> {
  const database = await openDatabase(url);
  try {
    const lines: string[] = [];
    for await (const line of exportLines(database.db, database.provider)) lines.push(line);
    return lines.slice(1).sort();
  } finally {
    await database.close();
  }
}

describe("postern backup and restore (SQLite)", () => {
  let server: ServeProcess | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it("backs up while the server writes; the restored copy verifies; restore refuses data without --force", { timeout: 300_000 }, async () => {
    const cwd = tempDir();
    const database = await createTestDatabase("sqlite");
    drops.push(database.drop);
    const env = { DATABASE_URL: database.url, POSTERN_DATA_DIR: cwd };
    server = await startServe({ cwd, env });
    const headers = await loginAsFirstAdmin(server);
    const created = await fetch(`${server.url}/api/services`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name: "Nextcloud", slug: "nextcloud", kind: "web", maxDurationSeconds: 3600 }),
    });
    expect(created.status).toBe(201);
    const service = (await created.json()) as { id: string };

    // Sessions start and end (each an audited write) for as long as the backup runs.
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      while (writing) {
        const started = await fetch(`${server!.url}/api/services/${service.id}/sessions`, {
          method: "POST",
          headers,
          body: JSON.stringify({ durationSeconds: 600, sourceIp: "203.0.113.7" }),
        });
        expect(started.status).toBe(201);
        const session = (await started.json()) as { id: string };
        const ended = await fetch(`${server!.url}/api/sessions/${session.id}`, { method: "DELETE", headers: { cookie: headers.cookie, "x-postern-csrf": "1" } });
        expect(ended.status).toBeLessThan(300);
        writes += 1;
      }
    })();
    while (writes < 3) await new Promise((r) => setTimeout(r, 50));
    const backupFile = path.join(cwd, "postern-backup.db");
    const writesBefore = writes;
    const backup = await postern(["backup", backupFile], env, cwd);
    const writesAfter = writes;
    writing = false;
    await writer;
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/^backup written to .*postern-backup\.db \(\d+ KiB\): .*AuditEvent/);
    // The server kept writing while the backup ran.
    expect(writesAfter).toBeGreaterThan(writesBefore);
    expect((await postern(["backup", backupFile], env, cwd)).code).toBe(1);
    await server.stop();
    server = undefined;

    // Into an empty place: restored, migrated, verified.
    const restoredUrl = `file:${path.join(cwd, "restored", "postern.db")}`;
    const restored = await postern(["restore", backupFile], { DATABASE_URL: restoredUrl }, cwd);
    expect(restored.stderr).toBe("");
    expect(restored.code).toBe(0);
    expect(restored.stdout).toMatch(/audit chain intact \(\d+ events\)/);
    const verify = await postern(["audit", "verify"], { DATABASE_URL: restoredUrl }, cwd);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/chain intact/);
    // The copy holds a prefix of what the server wrote: the same first events, no fewer users.
    const [original, copy] = await Promise.all([allRows(database.url), allRows(restoredUrl)]);
    const audit = (rows: string[]) => rows.filter((r) => r.startsWith('{"model":"AuditEvent"'));
    expect(audit(copy).length).toBeGreaterThan(3);
    expect(audit(original)).toEqual(expect.arrayContaining(audit(copy)));
    expect(copy.filter((r) => r.startsWith('{"model":"User"'))).toEqual(original.filter((r) => r.startsWith('{"model":"User"')));

    // Over a database that holds data: refused, then replaced with --force.
    expectOneLineFailure(await postern(["restore", backupFile], { DATABASE_URL: database.url }, cwd), /holds data .*--force/);
    const forced = await postern(["restore", backupFile, "--force"], { DATABASE_URL: database.url }, cwd);
    expect(forced.code).toBe(0);
    expect(await allRows(database.url)).toEqual(copy);

    // Not a backup: refused, nothing touched.
    const junk = path.join(cwd, "junk.db");
    fs.writeFileSync(junk, "not a database");
    expectOneLineFailure(await postern(["restore", junk, "--force"], { DATABASE_URL: database.url }, cwd), /junk\.db: /);
    expect(await allRows(database.url)).toEqual(copy);
  });

  it("refuses a backup whose audit chain does not verify, or from a newer Postern, before replacing anything", { timeout: 120_000 }, async () => {
    const cwd = tempDir();
    const env = { DATABASE_URL: `file:${path.join(cwd, "data", "postern.db")}` };
    expect((await postern(["user", "add", "alice", "--password", PASSWORD], env, cwd)).code).toBe(0);
    const backupOf = async (name: string, change: string) => {
      const file = path.join(cwd, name);
      expect((await postern(["backup", file], env, cwd)).code).toBe(0);
      const copy = new Database(file);
      copy.exec(change);
      copy.close();
      return file;
    };
    const tampered = await backupOf("tampered.db", `UPDATE "AuditEvent" SET "action" = 'user.deleted' WHERE "seq" = 1`);
    const newer = await backupOf(
      "newer.db",
      `INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "started_at", "finished_at", "applied_steps_count")
       VALUES ('future', '0', '29991231000000_from_the_future', 0, 0, 1)`,
    );
    // Written after the backups: a restore that went ahead would lose it.
    expect((await postern(["user", "add", "bob", "--password", PASSWORD], env, cwd)).code).toBe(0);
    const before = await allRows(env.DATABASE_URL);

    expectOneLineFailure(await postern(["restore", tampered, "--force"], env, cwd), /tampered\.db: the audit chain does not verify at event #1: .*; nothing was restored\n$/);
    expect(await allRows(env.DATABASE_URL)).toEqual(before);
    expectOneLineFailure(
      await postern(["restore", newer, "--force"], env, cwd),
      /newer\.db comes from a database with migrations this build lacks \(29991231000000_from_the_future\)/,
    );
    expect(await allRows(env.DATABASE_URL)).toEqual(before);
  });

  it("refuses to back up a damaged database and leaves no file behind", { timeout: 60_000 }, async () => {
    const cwd = tempDir();
    const file = path.join(cwd, "damaged.db");
    const damaged = new Database(file);
    damaged.exec(`CREATE TABLE "t" ("x" INTEGER PRIMARY KEY, "y" TEXT); CREATE INDEX "t_y" ON "t" ("y")`);
    const insert = damaged.prepare(`INSERT INTO "t" ("y") VALUES (?)`);
    damaged.transaction(() => {
      for (let i = 0; i < 2000; i++) insert.run(`row ${i}`);
    })();
    const pageSize = damaged.pragma("page_size", { simple: true }) as number;
    const pages = damaged.pragma("page_count", { simple: true }) as number;
    damaged.close();
    // A page in the middle overwritten: SQLite's backup copies it as it is, the check finds it.
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.alloc(pageSize, 0xff), 0, pageSize, pageSize * Math.floor(pages / 2));
    fs.closeSync(fd);

    const target = path.join(cwd, "backups");
    fs.mkdirSync(target);
    const res = await postern(["backup", path.join(target, "copy.db")], { DATABASE_URL: `file:${file}` }, cwd);
    expectOneLineFailure(res, /the copy failed its check \(quick_check: .+\); is the database itself damaged\?/);
    expect(fs.readdirSync(target)).toEqual([]);
  });

  it("points PostgreSQL users at pg_dump and pg_restore", { timeout: 120_000 }, async () => {
    const cwd = tempDir();
    const url = await freshPgDatabase();
    expectOneLineFailure(await postern(["backup", path.join(cwd, "x.db")], { DATABASE_URL: url }, cwd), /pg_dump --format=custom/);
    fs.writeFileSync(path.join(cwd, "x.db"), "");
    expectOneLineFailure(await postern(["restore", path.join(cwd, "x.db")], { DATABASE_URL: url }, cwd), /pg_restore/);
  });
});

describe("moving from SQLite to PostgreSQL (postern export / import)", () => {
  let source: TestApp | undefined;
  let server: ServeProcess | undefined;
  afterEach(async () => {
    await server?.stop();
    await source?.close();
    server = undefined;
    source = undefined;
  });

  it("keeps every user, service, session and token, and an audit chain that verifies", { timeout: 300_000 }, async () => {
    const cwd = tempDir();
    source = await buildTestApp("sqlite");
    const app = source.app;
    const group = await createGroup(app, "ops");
    await createUser(app, { role: "admin", username: "carol" });
    const alice = await createUser(app, { groupIds: [group.id], username: "alice" });
    const vpn = await createService(app, { name: "VPN customer A", exclusive: true, groupIds: [group.id] });
    const nas = await createService(app, { name: "NAS", groupIds: [group.id] });
    const start = (serviceId: string, durationSeconds: number) =>
      app.inject({ method: "POST", url: `/api/services/${serviceId}/sessions`, headers: alice.headers, payload: { durationSeconds, reason: "move test" } });
    const active = await start(vpn.id, 3600);
    expect(active.statusCode).toBe(201);
    const ended = await start(nas.id, 600);
    expect(ended.statusCode).toBe(201);
    const endedId = (ended.json() as { id: string }).id;
    expect((await app.inject({ method: "DELETE", url: `/api/sessions/${endedId}`, headers: alice.headers })).statusCode).toBeLessThan(300);
    // Alice's own token: it sees what she sees (an admin's token without the admin scope sees no more).
    const token = await app.inject({ method: "POST", url: "/api/tokens", headers: alice.headers, payload: { name: "monitor", scopes: ["sessions:read"] } });
    expect(token.statusCode).toBe(201);
    const secret = (token.json() as { token: string }).token;

    const file = path.join(cwd, "postern-export.jsonl");
    const exported = await postern(["export", file], { DATABASE_URL: source.url }, cwd);
    expect(exported.stderr).toBe("");
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(/AccessSession/);
    expect((await postern(["export", file], { DATABASE_URL: source.url }, cwd)).code).toBe(1);

    const target = await freshPgDatabase();
    const imported = await postern(["import", file], { DATABASE_URL: target }, cwd);
    expect(imported.stderr).toBe("");
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/audit chain intact \(\d+ events\)/);
    // Statistics for the planner, without waiting for autovacuum (off on the test machines).
    expect(await unanalysedTables(target)).toEqual([]);

    // Every row of every model arrived as it was.
    const [from, to] = await Promise.all([allRows(source.url), allRows(target)]);
    expect(to).toEqual(from);
    for (const model of ["User", "Group", "GroupMember", "Service", "ServiceGroup", "AccessSession", "ApiToken", "AuditEvent"]) {
      expect(modelNames).toContain(model);
      expect(to.filter((r) => r.startsWith(`{"model":"${model}"`)).length, model).toBeGreaterThan(0);
    }
    const verify = await postern(["audit", "verify"], { DATABASE_URL: target }, cwd);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/chain intact/);

    // Into a database that now holds data: refused without --force.
    expectOneLineFailure(await postern(["import", file], { DATABASE_URL: target }, cwd), /not empty .*--force/);

    // Postern serves the moved state from PostgreSQL: the same logins, sessions and tokens, and
    // new rows (ids drawn from the sequences) carry on from the imported ones.
    server = await startServe({ cwd, env: { DATABASE_URL: target, POSTERN_DATA_DIR: cwd } });
    const login = await fetch(`${server.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: alice.password }),
    });
    expect(login.status).toBe(200);
    const sessions = await fetch(`${server.url}/api/sessions?active=true`, { headers: { authorization: `Bearer ${secret}` } });
    expect(sessions.status).toBe(200);
    expect(((await sessions.json()) as { serviceId: string }[]).map((s) => s.serviceId)).toEqual([vpn.id]);
    expect(server.stdout()).not.toContain("First start");
    const after = await postern(["audit", "verify"], { DATABASE_URL: target }, cwd);
    expect(after.stdout).toMatch(/chain intact/);
  });

  it("writes the export owner-only, as a backup is (it holds password hashes)", { timeout: 60_000 }, async () => {
    const cwd = tempDir();
    const env = { DATABASE_URL: `file:${path.join(cwd, "data", "postern.db")}` };
    expect((await postern(["user", "add", "alice", "--password", PASSWORD], env, cwd)).code).toBe(0);
    const file = path.join(cwd, "postern-export.jsonl");
    expect((await postern(["export", file], env, cwd)).code).toBe(0);
    expect(fs.readFileSync(file, "utf8")).toContain("passwordHash");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it("refuses a truncated export with --force and leaves the database as it was", { timeout: 120_000 }, async () => {
    const cwd = tempDir();
    const source = { DATABASE_URL: `file:${path.join(cwd, "source", "postern.db")}` };
    const target = { DATABASE_URL: `file:${path.join(cwd, "target", "postern.db")}` };
    for (const name of ["alice", "bob"]) expect((await postern(["user", "add", name, "--password", PASSWORD], source, cwd)).code).toBe(0);
    const file = path.join(cwd, "postern-export.jsonl");
    expect((await postern(["export", file], source, cwd)).code).toBe(0);
    // A copy cut short at a line boundary: the header and the first row.
    const cut = path.join(cwd, "cut.jsonl");
    fs.writeFileSync(cut, fs.readFileSync(file, "utf8").split("\n").slice(0, 2).join("\n") + "\n");

    expect((await postern(["user", "add", "keep", "--password", PASSWORD], target, cwd)).code).toBe(0);
    const before = await allRows(target.DATABASE_URL);
    expectOneLineFailure(await postern(["import", cut, "--force"], target, cwd), /the export announced \d+; the file is incomplete, nothing was changed/);
    expect(await allRows(target.DATABASE_URL)).toEqual(before);
    // Into an empty database: nothing half filled either.
    const empty = { DATABASE_URL: `file:${path.join(cwd, "empty", "postern.db")}` };
    expectOneLineFailure(await postern(["import", cut], empty, cwd), /the export announced/);
    expect(await allRows(empty.DATABASE_URL)).toEqual([]);
  });

  it("refuses an export whose audit chain does not verify before it commits anything", { timeout: 120_000 }, async () => {
    const cwd = tempDir();
    const source = { DATABASE_URL: `file:${path.join(cwd, "source", "postern.db")}` };
    const target = { DATABASE_URL: `file:${path.join(cwd, "target", "postern.db")}` };
    expect((await postern(["user", "add", "alice", "--password", PASSWORD], source, cwd)).code).toBe(0);
    const file = path.join(cwd, "postern-export.jsonl");
    expect((await postern(["export", file], source, cwd)).code).toBe(0);
    // An event edited in the file: its row no longer gives its hash.
    const text = fs.readFileSync(file, "utf8");
    const tampered = path.join(cwd, "tampered.jsonl");
    fs.writeFileSync(tampered, text.replace('"action":"user.created"', '"action":"user.deleted"'));
    expect(fs.readFileSync(tampered, "utf8")).not.toBe(text);

    expect((await postern(["user", "add", "keep", "--password", PASSWORD], target, cwd)).code).toBe(0);
    const before = await allRows(target.DATABASE_URL);
    expectOneLineFailure(await postern(["import", tampered, "--force"], target, cwd), /^postern: the audit chain does not verify at event #1: .*; nothing was imported\n$/);
    expect(await allRows(target.DATABASE_URL)).toEqual(before);
  });
});
