import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LIVE_SEQ_HEADER, ZService, ZSession, type TLiveServerMessage } from "@postern/contracts";
import { createTestDatabase } from "../../../test/databases";
import { openLive, type LiveTestClient } from "./live.test-client";
import { loginWithBanner, startServe, type ServeProcess } from "../../../test/serve";

const hasSession = (id: string, type: string) => (ms: TLiveServerMessage[]) =>
  ms.some((m) => m.type === "event" && m.event.type === type && "session" in m.event && m.event.session.id === id);

// Several API instances behind a load balancer: two real `postern serve` processes on one
// PostgreSQL database, a client on each.
describe("live board across two API processes on postgres", () => {
  let db: { url: string; drop: () => Promise<void> };
  let a: ServeProcess;
  let b: ServeProcess;
  const dirs: string[] = [];
  /** One `postern serve` with a data directory of its own, as each instance behind a load
   * balancer has. */
  const instance = (env: Record<string, string>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-serve-"));
    dirs.push(dir);
    return startServe({ env: { ...env, POSTERN_DATA_DIR: dir }, cwd: dir });
  };
  const clients: LiveTestClient[] = [];

  beforeAll(async () => {
    db = await createTestDatabase("postgres");
    const env = { DATABASE_URL: db.url, POSTERN_SECRET: "live-instances-secret-0123456789-abcdefghij" };
    a = await instance(env);
    b = await instance(env);
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await a?.stop();
    await b?.stop();
    await db?.drop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("delivers a change made through one instance to the clients of both, in the same order", async () => {
    // A started first: it migrated the database and printed the first admin's login.
    const headers = await loginWithBanner(a.url, a.stdout());
    const { cookie } = headers;

    const onA = await openLive(a.url, { cookie });
    const onB = await openLive(b.url, { cookie });
    clients.push(onA, onB);
    await onA.waitFor((ms) => ms.length > 0, "a snapshot on A");
    await onB.waitFor((ms) => ms.length > 0, "a snapshot on B");

    const created = await fetch(`${a.url}/api/services`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name: "VPN customer A", slug: "vpn-a", kind: "vpn", maxDurationSeconds: 3600 }),
    });
    expect(created.status).toBe(201);
    const service = ZService.parse(await created.json());

    // Started through A, ended through B.
    const started = await fetch(`${a.url}/api/services/${service.id}/sessions`, { method: "POST", headers, body: JSON.stringify({ durationSeconds: 600 }) });
    expect(started.status).toBe(201);
    const session = ZSession.parse(await started.json());
    // Read through B the moment A answered, naming the change: B reads the log for it rather
    // than answer from a board that has yet to hear of it.
    const seq = started.headers.get(LIVE_SEQ_HEADER);
    expect(Number(seq)).toBeGreaterThan(0);
    const onBoardOfB = await fetch(`${b.url}/api/sessions?active=true`, { headers: { cookie, [LIVE_SEQ_HEADER]: seq! } });
    expect(ZSession.array().parse(await onBoardOfB.json()).map((s) => s.id)).toContain(session.id);
    await onB.waitFor(hasSession(session.id, "session.started"), "session.started on B");
    const ended = await fetch(`${b.url}/api/sessions/${session.id}`, { method: "DELETE", headers: { cookie, "x-postern-csrf": "1" } });
    expect(ended.status).toBe(200);
    await onA.waitFor(hasSession(session.id, "session.ended"), "session.ended on A");
    await onB.waitFor(hasSession(session.id, "session.ended"), "session.ended on B");

    const seqsOf = (c: LiveTestClient) => c.events().map((m) => `${m.seq}:${m.event.type}`);
    expect(seqsOf(onA)).toEqual(seqsOf(onB));
    expect(seqsOf(onA).map((s) => s.split(":")[1])).toEqual(["service.created", "session.started", "session.ended"]);

    // A client of A resumes on B (as behind a load balancer) without a gap.
    const since = onA.lastSeq() - 2;
    const moved = await openLive(b.url, { cookie }, since);
    clients.push(moved);
    await moved.waitFor((ms) => ms.some((m) => m.type === "ping"), "the replay on B and its closing ping");
    expect(moved.messages.map((m) => (m.type === "event" ? m.seq : m.type))).toEqual([since + 1, since + 2, "ping"]);
  }, 60_000);
});
