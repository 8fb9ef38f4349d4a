import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type TLiveEvent, type TLiveServerMessage } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import { openLive, type LiveTestClient } from "./live.test-client";
import { lastLogSeq, pruneLog } from "./live.log";

const eventTypes = (c: LiveTestClient) => c.events().map((m) => `${m.seq}:${m.event.type}`);
const snapshots = (c: LiveTestClient) => c.messages.filter((m) => m.type === "snapshot");
const hasEvent = (type: TLiveEvent["type"], n = 1) => (ms: TLiveServerMessage[]) =>
  ms.filter((m) => m.type === "event" && m.event.type === type).length >= n;

describe.each(providers)("live board stream on %s", (provider) => {
  let t: TestApp;
  let base: string;
  let admin: TestUser;
  const clients: LiveTestClient[] = [];
  const open = async (user: TestUser, since?: number) => {
    const c = await openLive(base, user.headers, since);
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    t = await buildTestApp(provider);
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    admin = await createUser(t.app, { role: "admin" });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await t.close();
  });

  const start = async (user: TestUser, serviceId: string) => {
    const res = await t.app.inject({
      method: "POST",
      url: `/api/services/${serviceId}/sessions`,
      headers: user.headers,
      payload: { durationSeconds: 600 },
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ id: string }>();
  };
  const end = async (user: TestUser, sessionId: string) => {
    const res = await t.app.inject({ method: "DELETE", url: `/api/sessions/${sessionId}`, headers: user.headers });
    expect(res.statusCode).toBe(200);
  };

  it("gives two clients a snapshot and then the same events in the same order", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { groupIds: [group.id] });
    const member = await createUser(t.app, { groupIds: [group.id] });
    const a = await open(admin);
    const b = await open(member);
    await a.waitFor((ms) => ms[0]?.type === "snapshot", "a's snapshot");
    await b.waitFor((ms) => ms[0]?.type === "snapshot", "b's snapshot");
    const snap = b.messages[0];
    expect(snap?.type === "snapshot" && snap.data.services.map((s) => s.id)).toEqual([service.id]);

    const sessions = await Promise.all([start(admin, service.id), start(member, service.id)]);
    await t.app.inject({ method: "POST", url: `/api/sessions/${sessions[0].id}/extend`, headers: admin.headers, payload: { durationSeconds: 60 } });
    await end(member, sessions[1].id);

    for (const c of [a, b]) await c.waitFor(hasEvent("session.ended"), "session.ended");
    expect(eventTypes(a)).toEqual(eventTypes(b));
    expect(eventTypes(a).map((e) => e.split(":")[1])).toEqual(["session.started", "session.started", "session.extended", "session.ended"]);
    const seqs = a.events().map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    const ended = a.events()[3];
    expect(ended?.event.type === "session.ended" && ended.event.session.id).toBe(sessions[1].id);
  });

  it("resumes after a dropped connection without losing or duplicating an event", async () => {
    const service = await createService(t.app);
    const first = await open(admin);
    const s1 = await start(admin, service.id);
    await first.waitFor(hasEvent("session.started"), "the first event");
    const since = first.lastSeq();
    first.ws.terminate();

    // Missed while away: replayed from the log.
    await end(admin, s1.id);
    const s2 = await start(admin, service.id);

    // Changes racing with the reconnect: each must arrive once, in order.
    const extraServices = await Promise.all([0, 1, 2].map(() => createService(t.app)));
    const racers = Promise.all(extraServices.map((s) => start(admin, s.id)));
    const second = await open(admin, since);
    await racers;
    await end(admin, s2.id);
    await second.waitFor(hasEvent("session.ended", 2), "the events after the reconnect");

    expect(snapshots(second)).toEqual([]);
    const seqs = second.events().map((m) => m.seq);
    expect(seqs[0]).toBe(since + 1);
    // One admin sees every event: the seqs are consecutive, with nothing twice.
    expect(seqs).toEqual(seqs.map((_, i) => since + 1 + i));
    expect(second.events().map((m) => m.event.type)).toEqual([
      "session.ended",
      "session.started",
      "session.started",
      "session.started",
      "session.started",
      "session.ended",
    ]);
  });

  it("replays across a number lost to an append that rolled back", async () => {
    const service = await createService(t.app);
    const s = await start(admin, service.id);
    const since = await lastLogSeq(t.app.ctx);
    // A number drawn and never committed, as an append that rolled back (or a process killed
    // between its append and its commit) leaves behind.
    if (provider === "postgres") await t.app.ctx.db.$queryRawUnsafe(`SELECT nextval(pg_get_serial_sequence('"LiveEvent"', 'seq'))`);
    else await t.app.ctx.db.$executeRawUnsafe(`UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'LiveEvent'`);
    await end(admin, s.id);

    const c = await open(admin, since);
    await c.waitFor((ms) => ms.length > 0, "the replay");
    expect(c.messages[0]?.type).toBe("event");
    expect(c.events().map((m) => [m.seq, m.event.type])).toEqual([[since + 2, "session.ended"]]);
  });

  it("sends a fresh snapshot when the client is further behind than the log keeps", async () => {
    const service = await createService(t.app);
    const s = await start(admin, service.id);
    await end(admin, s.id);
    await start(admin, service.id);
    // The log also holds the admin's login from before: everything but the newest goes.
    const last = await lastLogSeq(t.app.ctx);
    expect(last).toBeGreaterThanOrEqual(3);
    expect(await pruneLog(t.app.ctx, 1, 24 * 3600 * 1000)).toBe(last - 1);

    const c = await open(admin, 1);
    await c.waitFor((ms) => ms.length > 0, "the first message");
    const snap = c.messages[0];
    expect(snap?.type).toBe("snapshot");
    expect(snap?.type === "snapshot" && snap.seq).toBe(last);
    expect(snap?.type === "snapshot" && snap.data.sessions.map((x) => x.status)).toEqual(["active"]);
    expect(c.events()).toEqual([]);

    // A client that is up to date resumes with nothing to replay, then gets new events.
    const d = await open(admin, last);
    await end(admin, (snap?.type === "snapshot" && snap.data.sessions[0]?.id) || "");
    await d.waitFor(hasEvent("session.ended"), "the next event");
    expect(d.messages.map((m) => m.type)).toEqual(["event"]);
  });

  it("sends heartbeats", async () => {
    t.app.live.configure({ pingMs: 50 });
    const c = await open(admin);
    await c.waitFor((ms) => ms.filter((m) => m.type === "ping").length >= 2, "two pings", 3000);
  });
});
