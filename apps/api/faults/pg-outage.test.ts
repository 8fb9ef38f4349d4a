// A PostgreSQL outage under a running server: requests answer 503 in the error envelope,
// /readyz answers 503, the log says "database unavailable" and "database back" once each
// instead of a stack trace per request, service resumes without a restart, and an expiry that
// fell due during the outage happens exactly once afterwards.
//
// The cluster is shared with other tests on this machine: the outage is kept to a few seconds
// and the cluster is always started again.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZErrorBody } from "@postern/contracts";
import { openDatabase } from "@postern/db";
import { pgAdmin, pgUrl } from "../test/databases";
import { createServices, type Auth } from "../test/fault-load";
import { loginAsFirstAdmin, startServe, type ServeProcess } from "../test/serve";

const OUTAGE_MS = 4_000;

function cluster(action: "stop" | "start"): void {
  const version = fs.readdirSync("/etc/postgresql")[0] ?? "15";
  execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", action], { stdio: "pipe" });
}

function clusterProblem(): string | undefined {
  if (process.getuid?.() !== 0) return "not running as root, so the cluster cannot be stopped";
  if (!fs.existsSync("/etc/postgresql")) return "no local PostgreSQL cluster (pg_ctlcluster) on this machine";
  return undefined;
}

async function untilOk(fn: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await fn().catch(() => false)) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 100));
  }
  return Infinity;
}

describe("a PostgreSQL outage", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-pgdown-"));
  const dbName = `postern_fault_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const databaseUrl = pgUrl(dbName);
  const problem = clusterProblem();
  let server: ServeProcess | undefined;

  beforeAll(async () => {
    if (problem) return console.warn(`PostgreSQL outage test skipped: ${problem}`);
    await pgAdmin((c) => c.query(`CREATE DATABASE "${dbName}"`));
  });
  afterAll(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
    if (!problem) await pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("answers 503 envelopes, heals without a restart, and expires a session due meanwhile exactly once", async (ctx) => {
    if (problem) ctx.skip();
    server = await startServe({
      env: { DATABASE_URL: databaseUrl, POSTERN_DATA_DIR: dir, POSTERN_LOG_LEVEL: "info", POSTERN_MIN_SESSION_SECONDS: "1" },
      cwd: dir,
    });
    const auth: Auth = await loginAsFirstAdmin(server);
    const headers = { cookie: auth.cookie, "x-postern-csrf": "1", "content-type": "application/json" };
    const [serviceId] = await createServices(server.url, auth, 1);
    const started = await fetch(`${server.url}/api/services/${serviceId}/sessions`, {
      method: "POST",
      headers,
      body: JSON.stringify({ durationSeconds: 2 }),
    });
    expect(started.status).toBe(201);
    const sessionId = ((await started.json()) as { id: string }).id;

    const during: { write: boolean; status: number; body: string }[] = [];
    let ready = 0;
    cluster("stop");
    try {
      const until = Date.now() + OUTAGE_MS;
      while (Date.now() < until) {
        for (const [write, req] of [
          [false, fetch(`${server.url}/api/sessions?active=true`, { headers })],
          [true, fetch(`${server.url}/api/groups`, { method: "POST", headers, body: JSON.stringify({ name: `g${during.length}` }) })],
        ] as const) {
          const res = await req;
          during.push({ write, status: res.status, body: await res.text() });
        }
        ready = (await fetch(`${server.url}/readyz`)).status;
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      cluster("start");
    }

    // After the first few writes (a pooled connection may still answer one), all are 503
    // envelopes. The board's reads may still be answered from memory, where session events keep
    // it; whatever fails, fails as a 503 envelope.
    const failed = during.filter((r) => r.status !== 200 && r.status !== 201);
    const writes = during.filter((r) => r.write);
    expect(writes.filter((r) => r.status === 503).length).toBeGreaterThan(writes.length / 2);
    for (const r of failed) {
      expect(r.status, r.body).toBe(503);
      expect(ZErrorBody.parse(JSON.parse(r.body)).error.code).toBe("service_unavailable");
    }
    expect(ready).toBe(503);

    const healedAfter = await untilOk(async () => {
      const res = await fetch(`${server!.url}/api/groups`, { method: "POST", headers, body: JSON.stringify({ name: "after" }) });
      return res.status === 201;
    }, 30_000);
    expect(healedAfter).toBeLessThan(30_000);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);

    // The session fell due during the outage: the clock expires it once it can.
    const database = await openDatabase(databaseUrl);
    try {
      const expiredAfter = await untilOk(
        async () => (await database.db.accessSession.findUnique({ where: { id: sessionId } }))?.status === "expired",
        15_000,
      );
      expect(expiredAfter).toBeLessThan(15_000);
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await database.db.auditEvent.count({ where: { sessionId, action: "session.expired" } })).toBe(1);
      expect(await database.db.liveEvent.count({ where: { type: "session.expired" } })).toBe(1);
    } finally {
      await database.close();
    }

    await server.waitForOutput("database back");
    const out = server.stdout();
    console.log(
      `PostgreSQL outage of ${OUTAGE_MS} ms: ${during.length} requests, ${failed.length} answered 503; ` +
        `writes again ${healedAfter} ms after the restart; "database unavailable" logged ${out.match(/database unavailable/g)?.length ?? 0}×`,
    );
    expect(out.match(/database unavailable/g)?.length).toBe(1);
    expect(out).not.toMatch(/unhandled error/);
    expect(await server.stop()).toBe(0);
  });
});
