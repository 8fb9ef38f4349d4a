// What members must not learn: a gateway's error detail (it names other people's sessions,
// addresses and hidden services), other users' e-mails and groups through a holder or a session,
// the addresses other people's doors admit, and that a service they never saw was deleted.
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildTestApp, createGroup, createService, createUser, type TestApp } from "../../../test/app";
import { providers } from "../../../test/databases";
import { hasEvent, openLive, snapshots, type LiveTestClient } from "../live/live.test-client";

const DETAIL = "dnat 198.51.100.7 -> 10.9.0.2:80 for hidden-service failed";

describe.each(providers)("what members do not see, on %s", { timeout: 60_000 }, (provider) => {
  let t: TestApp;
  const clients: LiveTestClient[] = [];
  beforeEach(async () => {
    t = await buildTestApp(provider);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await t.close();
  });

  it("gateway error detail for admins only; holders and session users trimmed to id, username, display name", async () => {
    const a = await createGroup(t.app);
    const service = await createService(t.app, { exclusive: true, groupIds: [a.id] });
    const agent = await t.app.ctx.db.agent.create({ data: { name: "gw", online: true, lastSeenAt: new Date(), lastError: DETAIL } });
    await t.app.ctx.db.service.update({
      where: { id: service.id },
      data: { gatewayAgentId: agent.id, gatewayPublicPort: 18080, gatewayLanHost: "10.9.0.2", gatewayLanPort: 80, gatewayProtocol: "tcp" },
    });
    const admin = await createUser(t.app, { role: "admin" });
    const holder = await createUser(t.app, { groupIds: [a.id] });
    await t.app.ctx.db.user.update({ where: { id: holder.id }, data: { email: "holder@example.com", displayName: "Holder" } });
    const colleague = await createUser(t.app, { groupIds: [a.id] });

    const started = await t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: holder.headers, payload: { durationSeconds: 600 } });
    expect(started.statusCode).toBe(201);

    const asAdmin = (await t.app.inject({ url: `/api/services/${service.id}`, headers: admin.headers })).json<{ gatewayStatus?: { error?: string } }>();
    expect(asAdmin.gatewayStatus?.error).toBe(DETAIL);
    for (const url of [`/api/services/${service.id}`, "/api/services", "/api/sessions?active=true"]) {
      const res = await t.app.inject({ url, headers: colleague.headers });
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain("dnat");
      expect(res.body).not.toContain("holder@example.com");
    }
    const seen = (await t.app.inject({ url: `/api/services/${service.id}`, headers: colleague.headers })).json<{
      gatewayStatus?: Record<string, unknown>;
      holder?: Record<string, unknown>;
    }>();
    expect(seen.gatewayStatus).toMatchObject({ inSync: false });
    expect(seen.gatewayStatus).not.toHaveProperty("error");
    expect(seen.holder).toEqual({ id: holder.id, username: holder.username, displayName: "Holder" });
    const sessions = (await t.app.inject({ url: "/api/sessions?active=true", headers: colleague.headers })).json<{ user: Record<string, unknown> }[]>();
    expect(sessions.map((s) => s.user)).toEqual([{ id: holder.id, username: holder.username, displayName: "Holder" }]);

    // The live board's snapshot follows the same rule.
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const live = await openLive(base, colleague.headers);
    clients.push(live);
    await live.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "the snapshot");
    const snapshot = JSON.stringify(live.messages.find((m) => m.type === "snapshot"));
    expect(snapshot).toContain(service.id);
    expect(snapshot).not.toContain("dnat");
    expect(snapshot).not.toContain("holder@example.com");
  });

  it("shows the address a session was opened from to admins and its holder only", async () => {
    const [HOLDER_IP, COLLEAGUE_IP, WAITER_IP] = ["198.51.100.23", "198.51.100.24", "198.51.100.25"];
    const a = await createGroup(t.app);
    const shared = await createService(t.app, { groupIds: [a.id] });
    const exclusive = await createService(t.app, { exclusive: true, groupIds: [a.id] });
    const admin = await createUser(t.app, { role: "admin" });
    const [holder, colleague, waiter] = [
      await createUser(t.app, { groupIds: [a.id] }),
      await createUser(t.app, { groupIds: [a.id] }),
      await createUser(t.app, { groupIds: [a.id] }),
    ];
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const [colleagueLive, adminLive] = [await openLive(base, colleague.headers), await openLive(base, admin.headers)];
    clients.push(colleagueLive, adminLive);
    for (const c of [colleagueLive, adminLive]) await c.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "the snapshot");

    const post = (url: string, headers: Record<string, string>, payload: object) => t.app.inject({ method: "POST", url, headers, payload });
    const started = await post(`/api/services/${shared.id}/sessions`, holder.headers, { durationSeconds: 600, sourceIp: HOLDER_IP });
    expect(started.json()).toMatchObject({ sourceIp: HOLDER_IP });
    expect((await post(`/api/services/${shared.id}/sessions`, colleague.headers, { durationSeconds: 600, sourceIp: COLLEAGUE_IP })).statusCode).toBe(201);
    expect((await post(`/api/services/${exclusive.id}/sessions`, holder.headers, { durationSeconds: 600, sourceIp: HOLDER_IP })).statusCode).toBe(201);
    expect((await post(`/api/services/${exclusive.id}/waitlist`, waiter.headers, { sourceIp: WAITER_IP })).statusCode).toBe(201);
    // The extend is judged from the board on PostgreSQL: the row it writes back comes from there.
    const extended = await post(`/api/sessions/${started.json<{ id: string }>().id}/extend`, holder.headers, { durationSeconds: 60 });
    expect(extended.json()).toMatchObject({ sourceIp: HOLDER_IP });

    for (const url of ["/api/sessions?active=true", "/api/sessions?active=true&limit=1", `/api/services/${exclusive.id}/waitlist`, `/api/sessions?userId=${holder.id}`]) {
      const res = await t.app.inject({ url, headers: colleague.headers });
      expect(res.statusCode, url).toBe(200);
      expect(res.body, url).not.toContain(HOLDER_IP);
      expect(res.body, url).not.toContain(WAITER_IP);
    }
    type Row = { userId: string; sourceIp?: string };
    const history = (await t.app.inject({ url: "/api/sessions", headers: colleague.headers })).json<Row[]>();
    expect(history.map((s) => [s.userId, s.sourceIp]).sort()).toEqual(
      [[colleague.id, COLLEAGUE_IP], [holder.id, undefined], [holder.id, undefined], [waiter.id, undefined]].sort(),
    );
    const asAdmin = (await t.app.inject({ url: "/api/sessions?active=true", headers: admin.headers })).json<Row[]>();
    expect(asAdmin.map((s) => s.sourceIp).sort()).toEqual([HOLDER_IP, HOLDER_IP, COLLEAGUE_IP, WAITER_IP].sort());
    expect((await t.app.inject({ url: `/api/services/${exclusive.id}/waitlist`, headers: admin.headers })).body).toContain(WAITER_IP);

    for (const c of [colleagueLive, adminLive]) await c.waitFor(hasEvent("session.extended"), "session.extended");
    expect(JSON.stringify(colleagueLive.messages)).not.toContain(HOLDER_IP);
    expect(JSON.stringify(colleagueLive.messages)).not.toContain(WAITER_IP);
    const adminEvents = adminLive.events().map((m) => m.event);
    expect(adminEvents.filter((e) => "session" in e && e.session.sourceIp === HOLDER_IP).map((e) => e.type)).toEqual([
      "session.started",
      "session.started",
      "session.extended",
    ]);
    const [lateColleague, lateAdmin] = [await openLive(base, colleague.headers), await openLive(base, admin.headers)];
    clients.push(lateColleague, lateAdmin);
    for (const c of [lateColleague, lateAdmin]) await c.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "the snapshot");
    expect(JSON.stringify(snapshots(lateColleague))).not.toContain(HOLDER_IP);
    expect(JSON.stringify(snapshots(lateAdmin))).toContain(HOLDER_IP);
  });

  it("sends service.deleted only to those who could see the service", async () => {
    const a = await createGroup(t.app);
    const b = await createGroup(t.app);
    const hidden = await createService(t.app, { groupIds: [a.id] });
    const admin = await createUser(t.app, { role: "admin" });
    const inA = await createUser(t.app, { groupIds: [a.id] });
    const inB = await createUser(t.app, { groupIds: [b.id] });
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const [liveA, liveB] = [await openLive(base, inA.headers), await openLive(base, inB.headers)];
    clients.push(liveA, liveB);
    for (const c of [liveA, liveB]) await c.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "the snapshot");

    expect((await t.app.inject({ method: "DELETE", url: `/api/services/${hidden.id}`, headers: admin.headers })).statusCode).toBeLessThan(300);
    // A service both groups see comes after: once B has it, B would have had the deletion too.
    const shared = await t.app.inject({
      method: "POST",
      url: "/api/services",
      headers: admin.headers,
      payload: { name: "Shared", slug: "shared", kind: "web", maxDurationSeconds: 3600, groupIds: [a.id, b.id] },
    });
    expect(shared.statusCode).toBe(201);
    const types = (c: LiveTestClient) => c.events().map((m) => m.event.type);
    await liveA.waitFor((ms) => ms.some((m) => m.type === "event" && m.event.type === "service.created"), "service.created on A");
    await liveB.waitFor((ms) => ms.some((m) => m.type === "event" && m.event.type === "service.created"), "service.created on B");
    expect(types(liveA)).toContain("service.deleted");
    expect(types(liveB)).not.toContain("service.deleted");
    expect(JSON.stringify(liveB.messages)).not.toContain(hidden.id);
  });
});
