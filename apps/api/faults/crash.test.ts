// kill -9 and SIGTERM of a real `postern serve` under write load, on SQLite and PostgreSQL: after
// a restart every change the server acknowledged is in the tables, the audit chain verifies,
// and a client resuming with `?since=` is replayed every one of them. SIGTERM also closes every
// websocket with 1012 and answers what it refuses with 503 in the error envelope.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZErrorBody } from "@postern/contracts";
import { openLive } from "../src/modules/live/live.test-client";
import { pgAdmin, pgUrl, providers } from "../test/databases";
import {
  createServices,
  lastSeqOf,
  missingFromDatabase,
  missingFromReplay,
  verifyAudit,
  Writers,
  type Auth,
} from "../test/fault-load";
import { loginAsFirstAdmin, startServe, type ServeProcess } from "../test/serve";

const WRITERS = 6;
/** Enough acknowledged changes that the fault lands among them, few enough to stay quick. */
const ACKS_BEFORE_FAULT = 150;

async function untilAcks(writers: Writers, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (writers.acks.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe.each(providers)("faults under write load on %s", (provider) => {
  const dbName = `postern_fault_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  let dir = "";
  let databaseUrl = "";
  let env: Record<string, string> = {};
  let server: ServeProcess | undefined;
  let auth: Auth;

  // In beforeAll, not at collection: a describe filtered out by -t must leave nothing behind.
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-faults-"));
    databaseUrl = provider === "sqlite" ? `file:${path.join(dir, "postern.db")}` : pgUrl(dbName);
    env = { DATABASE_URL: databaseUrl, POSTERN_DATA_DIR: dir, POSTERN_LOG_LEVEL: "info" };
    if (provider === "postgres") await pgAdmin((c) => c.query(`CREATE DATABASE "${dbName}"`));
    server = await startServe({ env, cwd: dir });
    auth = await loginAsFirstAdmin(server);
  });
  afterAll(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
    if (provider === "postgres") await pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function expectAllKept(writers: Writers, since: number, what: string): Promise<void> {
    server = await startServe({ env, cwd: dir });
    const inDb = await missingFromDatabase(databaseUrl, writers.acks);
    const inLog = await missingFromReplay(server.url, auth, databaseUrl, since, writers.acks);
    const audit = await verifyAudit(databaseUrl, dir);
    console.log(
      `${provider} ${what}: ${writers.acks.length} acknowledged changes, outcomes ${JSON.stringify(Object.fromEntries(writers.outcomes))}; ` +
        `missing from the tables ${inDb.length}, from the replay ${inLog.length}; audit: ${audit.line}`,
    );
    expect(inDb).toEqual([]);
    expect(inLog).toEqual([]);
    expect(audit.ok, audit.line).toBe(true);
  }

  it("kill -9: every acknowledged change survives in the tables, the audit chain and the live log", async () => {
    const since = await lastSeqOf(databaseUrl);
    // Fresh services: sessions an earlier fault left open would count against the booking limit.
    const writers = new Writers(server!.url, auth, await createServices(server!.url, auth, WRITERS));
    await untilAcks(writers, ACKS_BEFORE_FAULT);
    const exited = new Promise((r) => server!.child.once("exit", r));
    server!.child.kill("SIGKILL");
    await exited;
    await writers.stop();
    expect(writers.acks.length).toBeGreaterThanOrEqual(ACKS_BEFORE_FAULT);
    await expectAllKept(writers, since, "kill -9");
  });

  it("SIGTERM: the same, every websocket gets 1012, and refusals are 503 envelopes", async () => {
    const since = await lastSeqOf(databaseUrl);
    const sockets = await Promise.all(Array.from({ length: 20 }, () => openLive(server!.url, { cookie: auth.cookie })));
    // Fresh services: sessions an earlier fault left open would count against the booking limit.
    const writers = new Writers(server!.url, auth, await createServices(server!.url, auth, WRITERS));
    await untilAcks(writers, ACKS_BEFORE_FAULT);
    const stopping = server!;
    const code = await stopping.stop();
    await writers.stop();
    expect(code, `${stopping.stdout().slice(-3000)}\n${stopping.stderr().slice(-3000)}`).toBe(0);
    expect((await Promise.all(sockets.map((s) => s.closed))).map((c) => c.code)).toEqual(sockets.map(() => 1012));
    for (const body of writers.unavailable) expect(ZErrorBody.safeParse(JSON.parse(body)).success, body).toBe(true);
    await expectAllKept(writers, since, "SIGTERM");
  });
});
