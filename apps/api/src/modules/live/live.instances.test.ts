import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZService, ZSession, type TLiveServerMessage } from "@postern/contracts";
import { createTestDatabase } from "../../../test/databases";
import { openLive, type LiveTestClient } from "./live.test-client";
import { startServerProcess, type ServerProcess } from "./live.test-server";

const hasSession = (id: string, type: string) => (ms: TLiveServerMessage[]) =>
  ms.some((m) => m.type === "event" && m.event.type === type && "session" in m.event && m.event.session.id === id);

// Several API instances behind a load balancer: two real `postern serve` processes on one
// PostgreSQL database, a client on each.
describe("live board across two API processes on postgres", () => {
  let db: { url: string; drop: () => Promise<void> };
  let a: ServerProcess;
  let b: ServerProcess;
  const clients: LiveTestClient[] = [];

  beforeAll(async () => {
    db = await createTestDatabase("postgres");
    const env = { DATABASE_URL: db.url, POSTERN_SECRET: "live-instances-secret-0123456789-abcdefghij" };
    a = await startServerProcess(env);
    b = await startServerProcess(env);
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  it("delivers a change made through one instance to the clients of both, in the same order", async () => {
    const password = /password\s+(\S+)/.exec(a.output())?.[1];
    const username = /username\s+(\S+)/.exec(a.output())?.[1];
    expect(password && username).toBeTruthy();
    const login = await fetch(`${a.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const headers = { cookie, "x-postern-csrf": "1", "content-type": "application/json" };

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
