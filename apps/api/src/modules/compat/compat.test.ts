// The older tools' routes answer like their v1 twins: same bodies, same errors, same audit.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ZConflictDetails, ZErrorBody, ZSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../../test/app";
import { rowCounts } from "../../../test/counts";
import { providers } from "../../../test/databases";
import { createApiToken } from "../tokens/tokens.service";

// A few seconds each on a quiet machine; the margin is for a loaded CI box.
vi.setConfig({ testTimeout: 120_000 });

describe.each(providers)("compatibility routes on %s", (provider) => {
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let groupId: string;
  beforeEach(async () => {
    t = await buildTestApp(provider);
    groupId = (await createGroup(t.app)).id;
    alice = await createUser(t.app, { groupIds: [groupId] });
    bob = await createUser(t.app, { groupIds: [groupId] });
  });
  afterEach(async () => t.close());

  it("GET /service/ and /service/:id return what /api/services does, hiding the same services", async () => {
    const visible = await createService(t.app, { groupIds: [groupId], exclusive: true });
    const hidden = await createService(t.app);
    await t.app.inject({ method: "POST", url: `/api/services/${visible.id}/sessions`, headers: bob.headers, payload: { durationSeconds: 300 } });

    const [oldList, newList] = await Promise.all([
      t.app.inject({ method: "GET", url: "/service/", headers: alice.headers }),
      t.app.inject({ method: "GET", url: "/api/services", headers: alice.headers }),
    ]);
    expect(oldList.statusCode).toBe(200);
    expect(oldList.json()).toEqual(newList.json());
    expect((oldList.json() as { id: string; holder?: { username: string } }[]).map((s) => [s.id, s.holder?.username])).toEqual([[visible.id, bob.username]]);

    for (const id of [visible.id, hidden.id, "no-such-service"]) {
      const [older, newer] = await Promise.all([
        t.app.inject({ method: "GET", url: `/service/${id}`, headers: alice.headers }),
        t.app.inject({ method: "GET", url: `/api/services/${id}`, headers: alice.headers }),
      ]);
      expect(older.statusCode).toBe(newer.statusCode);
      expect(older.json()).toEqual(newer.json());
    }
    expect((await t.app.inject({ method: "GET", url: `/service/${hidden.id}`, headers: alice.headers })).statusCode).toBe(404);
  });

  it("POST /conn/req/:serviceId starts a session and answers 409 naming the holder, like the v1 route", async () => {
    const service = await createService(t.app, { groupIds: [groupId], exclusive: true });
    const started = await t.app.inject({
      method: "POST",
      url: `/conn/req/${service.id}`,
      headers: alice.headers,
      payload: { durationSeconds: 900, reason: "on call" },
    });
    expect(started.statusCode).toBe(201);
    const session = ZSession.parse(started.json());
    expect(session).toMatchObject({ serviceId: service.id, userId: alice.id, status: "active", reason: "on call" });
    expect(Date.parse(session.expiresAt!) - Date.parse(session.startedAt!)).toBe(900_000);

    const before = await rowCounts(t.app);
    const [older, newer] = await Promise.all([
      t.app.inject({ method: "POST", url: `/conn/req/${service.id}`, headers: bob.headers, payload: {} }),
      t.app.inject({ method: "POST", url: `/api/services/${service.id}/sessions`, headers: bob.headers, payload: {} }),
    ]);
    for (const res of [older, newer]) {
      expect(res.statusCode).toBe(409);
      const body = ZErrorBody.parse(res.json());
      expect(ZConflictDetails.parse(body.error.details).holder.username).toBe(alice.username);
    }
    expect(older.json()).toEqual(newer.json());
    expect(await rowCounts(t.app)).toEqual(before);

    // A body is optional for the old scripts: the service's default duration applies.
    const shared = await createService(t.app, { groupIds: [groupId], defaultDurationSeconds: 1200 });
    const bare = await t.app.inject({ method: "POST", url: `/conn/req/${shared.id}`, headers: bob.headers });
    expect(bare.statusCode, bare.body).toBe(201);
    const bareSession = ZSession.parse(bare.json());
    expect(Date.parse(bareSession.expiresAt!) - Date.parse(bareSession.startedAt!)).toBe(1_200_000);

    const events = await t.app.ctx.db.auditEvent.findMany({ where: { action: "session.started" }, orderBy: { seq: "asc" } });
    expect(events.map((e) => e.sessionId)).toEqual([session.id, bareSession.id]);
  });

  // A script retrying a start it cannot have costs no write transaction on either path.
  it("POST /conn/req/:serviceId refuses an unseen service and one's own clash before any transaction, like the v1 route", async () => {
    const service = await createService(t.app, { groupIds: [groupId] });
    const hidden = await createService(t.app, { groupIds: [(await createGroup(t.app)).id] });
    const older = (id: string, payload: string) =>
      t.app.inject({ method: "POST", url: `/conn/req/${id}`, headers: { ...alice.headers, "content-type": "application/json" }, payload });
    const newer = (id: string, payload: string) =>
      t.app.inject({ method: "POST", url: `/api/services/${id}/sessions`, headers: { ...alice.headers, "content-type": "application/json" }, payload });
    expect((await older(service.id, '{"durationSeconds": 600}')).statusCode).toBe(201);
    expect((await t.app.inject({ url: "/api/services", headers: alice.headers })).statusCode).toBe(200);
    const transactions = vi.spyOn(t.app.ctx.sql, "transaction");
    // The service in the path before the body, whatever the body says; then her own session.
    for (const [id, payload, status] of [
      ["no-such-service", '{"durationSeconds": "soon"}', 404],
      [hidden.id, '{"durationSeconds": ', 404],
      [service.id, '{"durationSeconds": 600}', 409],
    ] as const) {
      const [a, b] = [await older(id, payload), await newer(id, payload)];
      expect(a.statusCode, `${id} ${payload}: ${a.body}`).toBe(status);
      expect(a.json()).toEqual(b.json());
    }
    expect(transactions).toHaveBeenCalledTimes(0);
  });

  it("POST /session/remove/:sessionId ends one's own session, refuses another's, and 404s an unknown one", async () => {
    const service = await createService(t.app, { groupIds: [groupId] });
    const started = await t.app.inject({ method: "POST", url: `/conn/req/${service.id}`, headers: alice.headers, payload: { durationSeconds: 600 } });
    const { id } = ZSession.parse(started.json());

    const before = await rowCounts(t.app);
    const byBob = await t.app.inject({ method: "POST", url: `/session/remove/${id}`, headers: bob.headers });
    expect(byBob.statusCode).toBe(403);
    expect(ZErrorBody.parse(byBob.json()).error.code).toBe("forbidden");
    const unknown = await t.app.inject({ method: "POST", url: "/session/remove/no-such-session", headers: alice.headers });
    expect(unknown.statusCode).toBe(404);
    expect(await rowCounts(t.app)).toEqual(before);

    const ended = await t.app.inject({ method: "POST", url: `/session/remove/${id}`, headers: alice.headers });
    expect(ended.statusCode).toBe(200);
    expect(ZSession.parse(ended.json())).toMatchObject({ id, status: "ended" });
    const again = await t.app.inject({ method: "DELETE", url: `/api/sessions/${id}`, headers: alice.headers });
    expect(again.statusCode).toBe(409);
    const actions = await t.app.ctx.db.auditEvent.findMany({ where: { sessionId: id }, orderBy: { seq: "asc" } });
    expect(actions.map((e) => e.action)).toEqual(["session.started", "session.ended"]);
  });

  it("accepts an API token in x-access-tokens, records its use, and refuses anonymous callers", async () => {
    const service = await createService(t.app, { groupIds: [groupId] });
    const { row, token } = await createApiToken(t.app.ctx, { actor: null }, {
      name: "script",
      scopes: ["sessions:read", "sessions:write"],
      userId: alice.id,
    });
    const listed = await t.app.inject({ method: "GET", url: "/service/", headers: { "x-access-tokens": token } });
    expect(listed.statusCode).toBe(200);
    expect((listed.json() as { id: string }[]).map((s) => s.id)).toEqual([service.id]);
    await t.app.tokenUsage.flush();
    const used = await t.app.ctx.db.apiToken.findUniqueOrThrow({ where: { id: row.id } });
    expect(used.lastUsedAt).toBeInstanceOf(Date);
    expect(used.lastUsedIp).toBe("127.0.0.1");

    const started = await t.app.inject({ method: "POST", url: `/conn/req/${service.id}`, headers: { "x-access-tokens": token }, payload: { durationSeconds: 600 } });
    expect(started.statusCode).toBe(201);
    expect(ZSession.parse(started.json()).userId).toBe(alice.id);

    const before = await rowCounts(t.app);
    for (const [method, url] of [
      ["GET", "/service/"],
      ["GET", `/service/${service.id}`],
      ["POST", `/conn/req/${service.id}`],
      ["POST", `/session/remove/${ZSession.parse(started.json()).id}`],
    ] as const) {
      const res = await t.app.inject({ method, url });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
      expect(ZErrorBody.parse(res.json()).error.code).toBe("unauthorized");
      const forged = await t.app.inject({ method, url, headers: { "x-access-tokens": "pst_000000000000_" + "A".repeat(43) } });
      expect(forged.statusCode, `${method} ${url}`).toBe(401);
    }
    expect(await rowCounts(t.app)).toEqual(before);
  });

  it("names the field of a bad /conn/req body and writes nothing", async () => {
    const service = await createService(t.app, { groupIds: [groupId], maxDurationSeconds: 3600 });
    const before = await rowCounts(t.app);
    const cases: [object, string][] = [
      [{ durationSeconds: "600" }, "body.durationSeconds"],
      [{ durationSeconds: 7200 }, "body.durationSeconds"],
      [{ sourceIp: "not-an-ip" }, "body.sourceIp"],
    ];
    for (const [payload, field] of cases) {
      const res = await t.app.inject({ method: "POST", url: `/conn/req/${service.id}`, headers: alice.headers, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      const details = ZErrorBody.parse(res.json()).error.details as { field: string }[];
      expect(details.map((d) => d.field)).toContain(field);
    }
    const unknown = await t.app.inject({ method: "POST", url: "/conn/req/no-such-service", headers: alice.headers, payload: {} });
    expect(unknown.statusCode).toBe(404);
    expect(await rowCounts(t.app)).toEqual(before);
  });
});
