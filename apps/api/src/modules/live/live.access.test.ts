import type { WebSocket } from "ws";
import { describe, expect, it } from "vitest";
import { ZCreatedToken, type TLiveServerMessage } from "@postern/contracts";
import { userInclude } from "../users/users.presenter";
import { createGroup, createService, createUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import { hasEvent, refusedStatus, snapshots } from "./live.test-client";
import { liveTestBed } from "./live.test-bed";

describe.each(providers)("live board stream access on %s", (provider) => {
  const bed = liveTestBed(provider);
  const { open, start, end } = bed;

  it("refuses anonymous callers and bad input before the upgrade, and accepts a sessions:read token", async () => {
    expect(await refusedStatus(bed.base, {})).toBe(401);
    expect(await refusedStatus(bed.base, bed.admin.headers, "abc")).toBe(400);
    expect(await refusedStatus(bed.base, { ...bed.admin.headers, origin: "https://evil.example" })).toBe(403);
    // Another port of the same host is another site (a second app on a home-lab box), though the
    // browser sends the login cookie there too.
    const port = Number(new URL(bed.base).port);
    expect(await refusedStatus(bed.base, { ...bed.admin.headers, origin: `http://127.0.0.1:${port + 1}` })).toBe(403);
    const own = await bed.openWith({ ...bed.admin.headers, origin: bed.base });
    await own.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "a snapshot for the board's own page");

    const created = await bed.t.app.inject({
      method: "POST",
      url: "/api/tokens",
      headers: bed.admin.headers,
      payload: { name: "board", scopes: ["sessions:read"] },
    });
    expect(created.statusCode).toBe(201);
    const { token } = ZCreatedToken.parse(created.json());
    const c = await bed.openWith({ authorization: `Bearer ${token}` });
    await c.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "a snapshot");
    const snap = snapshots(c)[0];
    expect(snap?.type === "snapshot" && snap.data.me?.username).toBe(bed.admin.username);

    const relayOnly = ZCreatedToken.parse(
      (await bed.t.app.inject({ method: "POST", url: "/api/tokens", headers: bed.admin.headers, payload: { name: "relay", scopes: ["relay:send"] } })).json(),
    );
    expect(await refusedStatus(bed.base, { authorization: `Bearer ${relayOnly.token}` })).toBe(403);
  });

  it("shows a member only their groups' services, and applies membership changes and disabling live", async () => {
    const groupA = await createGroup(bed.t.app);
    const groupB = await createGroup(bed.t.app);
    const serviceA = await createService(bed.t.app, { groupIds: [groupA.id] });
    const serviceB = await createService(bed.t.app, { groupIds: [groupB.id] });
    const member = await createUser(bed.t.app, { groupIds: [groupA.id] });
    const m = await open(member);
    const a = await open(bed.admin);

    await start(bed.admin, serviceB.id);
    const onA = await start(bed.admin, serviceA.id);
    await a.waitFor(hasEvent("session.started", 2), "both starts");
    await m.waitFor(hasEvent("session.started"), "the start on A");
    const firstSnap = m.messages[0];
    expect(firstSnap?.type === "snapshot" && firstSnap.data.services.map((s) => s.id)).toEqual([serviceA.id]);

    // Revoke A, grant B: the member's board is replaced live.
    const removed = await bed.t.app.inject({ method: "DELETE", url: `/api/groups/${groupA.id}/members/${member.id}`, headers: bed.admin.headers });
    expect(removed.statusCode).toBe(200);
    await m.waitFor((ms) => ms.filter((x) => x.type === "snapshot").length === 2, "a second snapshot");
    const second = snapshots(m)[1];
    expect(second?.type === "snapshot" && second.data.services).toEqual([]);
    await end(bed.admin, onA.id);
    const added = await bed.t.app.inject({ method: "POST", url: `/api/groups/${groupB.id}/members/${member.id}`, headers: bed.admin.headers });
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

    const disabled = await bed.t.app.inject({ method: "PATCH", url: `/api/users/${member.id}`, headers: bed.admin.headers, payload: { disabled: true } });
    expect(disabled.statusCode).toBe(200);
    const { code } = await m.closed;
    expect(code).toBe(4000);
    expect(m.messages.at(-1)).toEqual({ type: "resync", reason: "your account is disabled" });
    expect(await refusedStatus(bed.base, member.headers)).toBe(401);
  });

  it("tells the holder their session was revoked when the service leaves their group, or their group is deleted", async () => {
    const groupA = await createGroup(bed.t.app);
    const groupB = await createGroup(bed.t.app);
    const groupC = await createGroup(bed.t.app);
    const moved = await createService(bed.t.app, { groupIds: [groupA.id] });
    const orphaned = await createService(bed.t.app, { groupIds: [groupC.id] });
    const member = await createUser(bed.t.app, { groupIds: [groupA.id, groupC.id] });
    const m = await open(member);
    const onMoved = await start(member, moved.id);
    const onOrphaned = await start(member, orphaned.id);
    await m.waitFor(hasEvent("session.started", 2), "both starts");

    const patched = await bed.t.app.inject({ method: "PATCH", url: `/api/services/${moved.id}`, headers: bed.admin.headers, payload: { groupIds: [groupB.id] } });
    expect(patched.statusCode).toBe(200);
    const deleted = await bed.t.app.inject({ method: "DELETE", url: `/api/groups/${groupC.id}`, headers: bed.admin.headers });
    expect(deleted.statusCode).toBe(204);
    await m.waitFor(hasEvent("session.revoked", 2), "both revocations");
    const revoked = m.messages.flatMap((x) => (x.type === "event" && x.event.type === "session.revoked" ? [x.event.session.id] : []));
    expect(revoked.sort()).toEqual([onMoved.id, onOrphaned.id].sort());
  });

  it("tells a member who sees a service for the first time that it was created, and the rest that it changed", async () => {
    const groupA = await createGroup(bed.t.app);
    const groupB = await createGroup(bed.t.app);
    const service = await createService(bed.t.app, { groupIds: [groupA.id] });
    const before = await createUser(bed.t.app, { groupIds: [groupA.id] });
    const newcomer = await createUser(bed.t.app, { groupIds: [groupB.id] });
    const [b, n, a] = [await open(before), await open(newcomer), await open(bed.admin)];
    const patch = (payload: object) =>
      bed.t.app.inject({ method: "PATCH", url: `/api/services/${service.id}`, headers: bed.admin.headers, payload });

    expect((await patch({ groupIds: [groupA.id, groupB.id] })).statusCode).toBe(200);
    await n.waitFor(hasEvent("service.created"), "the newcomer's service.created");
    await b.waitFor(hasEvent("service.updated"), "the service.updated of a member who saw it");
    await a.waitFor(hasEvent("service.updated"), "the admin's service.updated");
    const created = n.events().map((x) => x.event);
    expect(created.map((e) => e.type)).toEqual(["service.created"]);
    expect(created[0]?.type === "service.created" && created[0].service.groupIds.sort()).toEqual([groupA.id, groupB.id].sort());
    expect(b.events().map((x) => x.event.type)).toEqual(["service.updated"]);
    expect(a.events().map((x) => x.event.type)).toEqual(["service.updated"]);

    // Seen now: the next change is an update for everyone.
    expect((await patch({ name: "Renamed" })).statusCode).toBe(200);
    await n.waitFor(hasEvent("service.updated"), "the newcomer's service.updated");
    expect(n.events().map((x) => x.event.type)).toEqual(["service.created", "service.updated"]);
  });

  it("reads a stream's rights again when they changed after its caller was authenticated", async () => {
    const groupA = await createGroup(bed.t.app);
    const service = await createService(bed.t.app, { groupIds: [groupA.id] });
    const member = await createUser(bed.t.app, { groupIds: [groupA.id] });
    // The rights as a request read them, just before the member left the group; the change's
    // own refresh of the member's streams finds none, since this one is not added yet.
    const asRead = await bed.t.app.ctx.db.user.findUniqueOrThrow({ where: { id: member.id }, include: userInclude });
    const removed = await bed.t.app.inject({ method: "DELETE", url: `/api/groups/${groupA.id}/members/${member.id}`, headers: bed.admin.headers });
    expect(removed.statusCode).toBe(200);
    const sent: TLiveServerMessage[] = [];
    const socket = {
      bufferedAmount: 0,
      send: (data: Buffer | string) => sent.push(JSON.parse(data.toString()) as TLiveServerMessage),
      close: () => {},
      terminate: () => {},
      on: () => socket,
    } as unknown as WebSocket;
    const client = await bed.t.app.live.hub.connect(socket, { user: asRead, scopes: null }, undefined);
    expect([...client.cls.groupIds]).toEqual([]);
    const snaps = sent.filter((m) => m.type === "snapshot");
    expect(snaps).toHaveLength(1);
    expect(snaps[0]?.type === "snapshot" && snaps[0].data.services.map((x) => x.id)).not.toContain(service.id);
  });

  it("ends the stream of a login that logged out and of a token that was revoked, at once", async () => {
    bed.t.app.live.configure({ pingMs: 200 });
    const member = await createUser(bed.t.app);
    const created = ZCreatedToken.parse(
      (await bed.t.app.inject({ method: "POST", url: "/api/tokens", headers: bed.admin.headers, payload: { name: "wall", scopes: ["sessions:read"] } })).json(),
    );
    const viaLogin = await open(member);
    const viaToken = await bed.openWith({ authorization: `Bearer ${created.token}` });
    const bystander = await open(bed.admin);
    for (const c of [viaLogin, viaToken, bystander]) await c.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "a snapshot");

    expect((await bed.t.app.inject({ method: "POST", url: "/api/auth/logout", headers: member.headers })).statusCode).toBe(200);
    expect((await viaLogin.closed).code).toBe(4000);
    expect(viaLogin.messages.at(-1)).toEqual({ type: "resync", reason: "your login has ended" });

    expect((await bed.t.app.inject({ method: "DELETE", url: `/api/tokens/${created.id}`, headers: bed.admin.headers })).statusCode).toBe(200);
    expect((await viaToken.closed).code).toBe(4000);
    // The revocation event and the periodic credential sweep race to close it; either says why.
    expect(viaToken.messages.at(-1)).toEqual({ type: "resync", reason: expect.stringMatching(/^this token was revoked/) });

    // Other logins stay connected.
    await bystander.waitFor((ms) => ms.filter((m) => m.type === "ping").length >= 3, "more heartbeats");
    expect(bystander.messages.some((m) => m.type === "resync")).toBe(false);
  });

  it("tells a client that does not read to resync and drops it instead of buffering without bound", async () => {
    const reader = await open(bed.admin);
    const slow = await open(bed.admin);
    await slow.waitFor((ms) => ms.length > 0, "the snapshot");
    await reader.waitFor((ms) => ms.length > 0, "the snapshot");
    bed.t.app.live.configure({ maxBufferedBytes: 64 * 1024 });
    slow.ws.pause();
    // Synthetic large events through the real hub: producing 30 MB through the API would take
    // minutes, and what is tested here is the hub's bound, not the producer.
    const big = "x".repeat(256 * 1024);
    const hub = bed.t.app.live.hub;
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
