// A database that went back in time under a running server: restored from a backup, or failed
// over to a replica the latest commits had not reached (on PostgreSQL a change is readable an
// instant before its flush). The log then holds another change, or none, at the seqs this process
// has taken, and new changes reuse them: read after the cursor, they would be skipped for good,
// and the board, the caches and the doors would keep changes the database no longer has. The log
// reader notices; `postern serve` restarts in place and reloads everything from the database.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { buildTestApp, createGroup, createService, createUser, type TestApp } from "../../../test/app";
import { createTestDatabase, pgAdmin, providers } from "../../../test/databases";
import { postern } from "../../../test/cli";
import { loginAsFirstAdmin, startServe, type ServeProcess } from "../../../test/serve";
import WebSocket from "ws";
import { RESYNC_CLOSE_CODE } from "./live.hub";
import { lastLogRecord, type LogRecord } from "./live.log";
import { LogReader } from "./live.reader";

vi.setConfig({ testTimeout: 60_000 });

const until = async (what: () => boolean, label: string, ms = 10_000) => {
  for (const end = Date.now() + ms; !what() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
  expect(what(), label).toBe(true);
};

/** Ends the LISTEN connections on the database at `url`, as a restart or failover of the server would. */
async function dropListeners(url: string): Promise<number> {
  return pgAdmin(async (client) => {
    const rows = await client.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`,
      [new URL(url).pathname.slice(1)],
    );
    return rows.rowCount ?? 0;
  });
}

describe.each(providers)("the log reader on %s, when the log no longer holds what it took", (provider) => {
  let t: TestApp;
  let reader: LogReader | undefined;
  let taken: LogRecord;
  const rewound: string[] = [];
  let delivered = 0;

  const newGroup = async (name: string) => {
    const admin = await createUser(t.app, { role: "admin" });
    const res = await t.app.inject({ method: "POST", url: "/api/groups", headers: admin.headers, payload: { name } });
    expect(res.statusCode).toBe(201);
  };

  /** A reader whose consumer has taken `taken` and nothing after it. */
  const startReader = async (checkMs: number) => {
    reader = new LogReader(t.app.ctx, {
      cursor: () => taken.seq,
      last: () => taken,
      deliver: (records) => (delivered += records.length),
      offer: (records) => (delivered += records.length),
      rewound: (found) => rewound.push(found),
      log: () => {},
      pollMs: 20,
      checkMs,
      listenUrl: provider === "postgres" ? t.url : undefined,
    });
    await reader.start();
    await reader.settled();
  };

  beforeEach(async () => {
    t = await buildTestApp(provider);
    await newGroup("before-the-restore");
    taken = (await lastLogRecord(t.app.ctx))!;
    expect(taken.event.type).toBe("group.created");
    rewound.length = 0;
    delivered = 0;
  }, 120_000);
  afterEach(async () => {
    await reader?.stop();
    reader = undefined;
    await t?.close();
  });

  it("stays quiet while the log holds the change taken, and once it is pruned behind later ones", async () => {
    await startReader(20);
    await newGroup("later");
    await until(() => delivered > 0, "the later change delivered");
    await t.app.ctx.db.liveEvent.deleteMany({ where: { seq: { lte: taken.seq } } });
    await new Promise((r) => setTimeout(r, 150));
    await reader!.settled();
    expect(rewound).toEqual([]);
  });

  it("reports another change at the seq taken, once, and reads nothing after it", async () => {
    await startReader(20);
    await t.app.ctx.db.liveEvent.update({
      where: { seq: taken.seq },
      data: { payload: (await t.app.ctx.db.liveEvent.findUniqueOrThrow({ where: { seq: taken.seq } })).payload.replace("before-the-restore", "another-history") },
    });
    await until(() => rewound.length > 0, "reported");
    await newGroup("after-the-restore");
    await new Promise((r) => setTimeout(r, 150));
    expect(delivered).toBe(0);
    expect(rewound).toEqual([`the live log's seq ${taken.seq} is a group.created, where this process took a group.created with other details`]);
  });

  it("reports a log that ends before the seq taken", async () => {
    await startReader(20);
    await t.app.ctx.db.liveEvent.delete({ where: { seq: taken.seq } });
    await until(() => rewound.length > 0, "reported");
    expect(rewound).toEqual([`the live log ends before seq ${taken.seq}, the last change this process took`]);
  });

  it.runIf(provider === "postgres")("checks as soon as its LISTEN connection is back, whatever the interval", async () => {
    await startReader(3_600_000);
    await t.app.ctx.db.liveEvent.delete({ where: { seq: taken.seq } });
    await new Promise((r) => setTimeout(r, 150));
    expect(rewound).toEqual([]);
    expect(await dropListeners(t.url)).toBeGreaterThan(0);
    await until(() => rewound.length > 0, "reported after the reconnect");
  });
});

// The check compares what the process took (a local commit's own event objects, or records parsed
// from a notification) with what the log holds: a difference that is not a rewind would restart
// a healthy server.
describe.each(providers)("on %s, what a change's commit hands the consumers", (provider) => {
  let t: TestApp | undefined;
  afterAll(async () => t?.close());

  it("reads back the same from the log, for every kind of change a board sees", async () => {
    t = await buildTestApp(provider);
    const { app } = t;
    const group = await createGroup(app, "ops");
    const admin = await createUser(app, { role: "admin" });
    const member = await createUser(app, { groupIds: [group.id] });
    const service = await createService(app, { groupIds: [group.id] });
    const checked: string[] = [];
    const same = async () => {
      await app.changes.settled();
      const taken = app.changes.lastRecord!;
      const logged = await lastLogRecord(app.ctx);
      expect(logged?.seq).toBe(taken.seq);
      expect(JSON.stringify(logged?.event)).toBe(JSON.stringify(taken.event));
      checked.push(taken.event.type);
    };
    const call = async (method: "POST" | "PATCH" | "DELETE", url: string, headers: Record<string, string>, payload?: object) => {
      const res = await app.inject({ method, url, headers, payload });
      expect(res.statusCode, res.body).toBeLessThan(300);
      await same();
      return res.json() as { id: string };
    };
    const started = await call("POST", `/api/services/${service.id}/sessions`, member.headers, { durationSeconds: 600, reason: "déploiement — ünïcode" });
    await call("POST", `/api/sessions/${started.id}/extend`, member.headers, { durationSeconds: 300 });
    await call("DELETE", `/api/sessions/${started.id}`, member.headers);
    await call("PATCH", `/api/services/${service.id}`, admin.headers, { description: "the VPN" });
    await call("POST", "/api/groups", admin.headers, { name: "support" });
    expect(checked).toEqual(expect.arrayContaining(["session.started", "session.extended", "session.ended", "service.updated", "group.created"]));
  });
});

/** The services a running server's board lists, and a way to add one, as its first admin. */
async function boardOf(server: ServeProcess) {
  const headers = await loginAsFirstAdmin(server);
  return {
    headers,
    slugs: async () => {
      const res = await fetch(`${server.url}/api/services`, { headers });
      expect(res.status).toBe(200);
      return ((await res.json()) as { slug: string }[]).map((s) => s.slug);
    },
    create: async (slug: string) => {
      const res = await fetch(`${server.url}/api/services`, {
        method: "POST",
        headers,
        body: JSON.stringify({ name: slug, slug, kind: "web", url: `https://${slug}.example`, maxDurationSeconds: 600 }),
      });
      expect(res.status).toBe(201);
    },
  };
}

/** Waits for the restart in place, then checks the board holds what the database does. */
async function expectRestartedOnto(server: ServeProcess, slugs: () => Promise<string[]>, expected: string[]) {
  await server.waitForOutput("restarting in place", 15_000);
  await server.waitForOutput(/"msg":"Postern is serving again"/, 30_000);
  expect(server.child.exitCode).toBeNull();
  expect(await slugs()).toEqual(expected);
  expect(server.stdout() + server.stderr()).toContain("the live log ends before seq");
}

describe("postern serve, after its database went back in time", () => {
  let server: ServeProcess | undefined;
  const drops: (() => Promise<void>)[] = [];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-rewind-"));
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });
  afterAll(async () => {
    for (const drop of drops) await drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("on postgres: restarts in place, tells the browsers to start over, and serves what the database holds", async () => {
    const database = await createTestDatabase("postgres");
    drops.push(database.drop);
    server = await startServe({
      cwd: dataDir,
      env: { DATABASE_URL: database.url, POSTERN_SECRET: "rewind-secret-rewind-secret-0123456789", POSTERN_DATA_DIR: dataDir },
    });
    const board = await boardOf(server);
    // A browser on the board: it is told to start over, not to resume after a change that is gone.
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/api/live`, { headers: { cookie: board.headers.cookie } });
    const heard: { type: string; reason?: string }[] = [];
    ws.on("message", (data: Buffer) => heard.push(JSON.parse(data.toString()) as { type: string }));
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    await until(() => heard.some((m) => m.type === "snapshot"), "the live stream's snapshot");

    // What the backup holds, then a change it does not.
    await board.create("kept");
    const { Client } = (await import("pg")).default;
    const db = new Client({ connectionString: database.url });
    await db.connect();
    try {
      const before = await db.query<{ live: number; audit: number }>(
        `SELECT (SELECT max("seq") FROM "LiveEvent") AS live, (SELECT max("seq") FROM "AuditEvent") AS audit`,
      );
      await board.create("lost");
      expect(await board.slugs()).toEqual(expect.arrayContaining(["kept", "lost"]));

      // The database goes back to the backup (as a failover to a replica it had not reached would):
      // the second service, its audit events and its live events were never written there.
      const { live, audit } = before.rows[0]!;
      await db.query(`DELETE FROM "Service" WHERE "slug" = 'lost'`);
      await db.query(`DELETE FROM "AuditEvent" WHERE "seq" > $1`, [audit]);
      await db.query(`DELETE FROM "LiveEvent" WHERE "seq" > $1`, [live]);
    } finally {
      await db.end();
    }
    expect(await dropListeners(database.url)).toBeGreaterThan(0);

    await expectRestartedOnto(server, board.slugs, ["kept"]);
    expect(await closed).toBe(RESYNC_CLOSE_CODE);
    expect(heard.at(-1)).toEqual({ type: "resync", reason: "the server reloaded the board from the database" });
  });

  // The README says to stop Postern first, and a change made in the seconds before the server
  // notices is lost to the restore; but one that was not stopped must not go on serving a board
  // the database no longer has.
  it("on sqlite: a restore under the running server is noticed by its poll, and reloaded", async () => {
    const database = await createTestDatabase("sqlite");
    drops.push(database.drop);
    const env = { DATABASE_URL: database.url, POSTERN_DATA_DIR: dataDir };
    server = await startServe({ cwd: dataDir, env });
    const board = await boardOf(server);
    await board.create("kept");
    const backupFile = path.join(dataDir, "backup.db");
    expect((await postern(["backup", backupFile], env, dataDir)).code).toBe(0);
    await board.create("lost");
    expect(await board.slugs()).toEqual(expect.arrayContaining(["kept", "lost"]));
    const restored = await postern(["restore", backupFile, "--force"], env, dataDir);
    expect(restored.code, restored.stderr).toBe(0);
    await expectRestartedOnto(server, board.slugs, ["kept"]);
  });
});
