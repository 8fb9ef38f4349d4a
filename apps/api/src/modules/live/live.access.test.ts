import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ZCreatedToken, type TLiveEvent, type TLiveServerMessage } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import { openLive, refusedStatus, type LiveTestClient } from "./live.test-client";

const snapshots = (c: LiveTestClient) => c.messages.filter((m) => m.type === "snapshot");
const hasEvent = (type: TLiveEvent["type"], n = 1) => (ms: TLiveServerMessage[]) =>
  ms.filter((m) => m.type === "event" && m.event.type === type).length >= n;

describe.each(providers)("live board stream access on %s", (provider) => {
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

  it("refuses anonymous callers and bad input before the upgrade, and accepts a sessions:read token", async () => {
    expect(await refusedStatus(base, {})).toBe(401);
    expect(await refusedStatus(base, admin.headers, "abc")).toBe(400);
    expect(await refusedStatus(base, { ...admin.headers, origin: "https://evil.example" })).toBe(403);

    const created = await t.app.inject({
      method: "POST",
      url: "/api/tokens",
      headers: admin.headers,
      payload: { name: "board", scopes: ["sessions:read"] },
    });
    expect(created.statusCode).toBe(201);
    const { token } = ZCreatedToken.parse(created.json());
    const c = await openLive(base, { authorization: `Bearer ${token}` });
    clients.push(c);
    await c.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "a snapshot");
    const snap = snapshots(c)[0];
    expect(snap?.type === "snapshot" && snap.data.me?.username).toBe(admin.username);

    const relayOnly = ZCreatedToken.parse(
      (await t.app.inject({ method: "POST", url: "/api/tokens", headers: admin.headers, payload: { name: "relay", scopes: ["relay:send"] } })).json(),
    );
    expect(await refusedStatus(base, { authorization: `Bearer ${relayOnly.token}` })).toBe(403);
  });

  it("shows a member only their groups' services, and applies membership changes and disabling live", async () => {
    const groupA = await createGroup(t.app);
    const groupB = await createGroup(t.app);
    const serviceA = await createService(t.app, { groupIds: [groupA.id] });
    const serviceB = await createService(t.app, { groupIds: [groupB.id] });
    const member = await createUser(t.app, { groupIds: [groupA.id] });
    const m = await open(member);
    const a = await open(admin);

    await start(admin, serviceB.id);
    const onA = await start(admin, serviceA.id);
    await a.waitFor(hasEvent("session.started", 2), "both starts");
    await m.waitFor(hasEvent("session.started"), "the start on A");
    const firstSnap = m.messages[0];
    expect(firstSnap?.type === "snapshot" && firstSnap.data.services.map((s) => s.id)).toEqual([serviceA.id]);

    // Revoke A, grant B: the member's board is replaced live.
    const removed = await t.app.inject({ method: "DELETE", url: `/api/groups/${groupA.id}/members/${member.id}`, headers: admin.headers });
    expect(removed.statusCode).toBe(200);
    await m.waitFor((ms) => ms.filter((x) => x.type === "snapshot").length === 2, "a second snapshot");
    const second = snapshots(m)[1];
    expect(second?.type === "snapshot" && second.data.services).toEqual([]);
    await end(admin, onA.id);
    const added = await t.app.inject({ method: "POST", url: `/api/groups/${groupB.id}/members/${member.id}`, headers: admin.headers });
    expect(added.statusCode).toBe(200);
    await m.waitFor((ms) => ms.filter((x) => x.type === "snapshot").length === 3, "a third snapshot");
    const third = snapshots(m)[2];
    expect(third?.type === "snapshot" && third.data.services.map((s) => s.id)).toEqual([serviceB.id]);
    expect(third?.type === "snapshot" && third.data.sessions.map((s) => s.serviceId)).toEqual([serviceB.id]);

    await a.waitFor(hasEvent("group.member_removed"), "the admin's group events");
    await a.waitFor(hasEvent("group.member_added"), "the admin's group events");
    await a.waitFor(hasEvent("session.ended"), "the end on A");
    // Every event the member got is about a service they could see at the time.
    const seen = m.events().map((x) => x.event);
    expect(seen.map((e) => e.type)).toEqual(["session.started"]);
    expect(seen.every((e) => e.type !== "session.started" || e.session.serviceId === serviceA.id)).toBe(true);
    expect(m.events().some((x) => x.event.type.startsWith("group."))).toBe(false);

    const disabled = await t.app.inject({ method: "PATCH", url: `/api/users/${member.id}`, headers: admin.headers, payload: { disabled: true } });
    expect(disabled.statusCode).toBe(200);
    const { code } = await m.closed;
    expect(code).toBe(4000);
    expect(m.messages.at(-1)).toEqual({ type: "resync", reason: "your account is disabled" });
    expect(await refusedStatus(base, member.headers)).toBe(401);
  });

  it("ends the stream of a login that logged out and of a token that was revoked, at once", async () => {
    t.app.live.configure({ pingMs: 200 });
    const member = await createUser(t.app);
    const created = ZCreatedToken.parse(
      (await t.app.inject({ method: "POST", url: "/api/tokens", headers: admin.headers, payload: { name: "wall", scopes: ["sessions:read"] } })).json(),
    );
    const viaLogin = await open(member);
    const viaToken = await openLive(base, { authorization: `Bearer ${created.token}` });
    clients.push(viaToken);
    const bystander = await open(admin);
    for (const c of [viaLogin, viaToken, bystander]) await c.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "a snapshot");

    expect((await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: member.headers })).statusCode).toBe(200);
    expect((await viaLogin.closed).code).toBe(4000);
    expect(viaLogin.messages.at(-1)).toEqual({ type: "resync", reason: "your login has ended" });

    expect((await t.app.inject({ method: "DELETE", url: `/api/tokens/${created.id}`, headers: admin.headers })).statusCode).toBe(200);
    expect((await viaToken.closed).code).toBe(4000);
    // The revocation event and the periodic credential sweep race to close it; either says why.
    expect(viaToken.messages.at(-1)).toEqual({ type: "resync", reason: expect.stringMatching(/^this token was revoked/) });

    // Other logins stay connected.
    await bystander.waitFor((ms) => ms.filter((m) => m.type === "ping").length >= 3, "more heartbeats");
    expect(bystander.messages.some((m) => m.type === "resync")).toBe(false);
  });

  it("tells a client that does not read to resync and drops it instead of buffering without bound", async () => {
    const reader = await open(admin);
    const slow = await open(admin);
    await slow.waitFor((ms) => ms.length > 0, "the snapshot");
    await reader.waitFor((ms) => ms.length > 0, "the snapshot");
    t.app.live.configure({ maxBufferedBytes: 64 * 1024 });
    slow.ws.pause();
    // Synthetic large events through the real hub: producing 30 MB through the API would take
    // minutes, and what is tested here is the hub's bound, not the producer.
    const big = "x".repeat(256 * 1024);
    const hub = t.app.live.hub;
    for (let i = 0; i < 120 && hub.clientCount === 2; i++) {
      const message = { id: `m${i}`, message: big, severity: "info", status: "sent", attempts: 1, createdAt: new Date().toISOString() } as const;
      hub.deliver({ seq: hub.lastSeq + 1, event: { type: "message.sent", message }, audience: { to: "admins" } });
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(hub.clientCount).toBe(1);
    slow.ws.resume();
    const { code } = await slow.closed;
    expect(code).toBe(4000);
    expect(slow.messages.at(-1)).toEqual({ type: "resync", reason: "the connection is too slow" });
    // The reading client was not affected.
    expect(reader.ws.readyState).toBe(reader.ws.OPEN);
  });

});
