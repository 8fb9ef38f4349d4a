import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ZConflictDetails, ZErrorBody, ZSession } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, testClock, type TestApp, type TestClock } from "../../../test/app";
import { providers } from "../../../test/databases";

describe.each(providers)("access sessions on %s", (provider) => {
  let t: TestApp;
  let clock: TestClock;
  beforeEach(async () => {
    clock = testClock();
    t = await buildTestApp(provider, { now: clock.now });
  });
  afterEach(async () => t.close());

  it("starts a session and answers 409 naming the holder on an exclusive service", async () => {
    const group = await createGroup(t.app);
    const service = await createService(t.app, { exclusive: true, groupIds: [group.id] });
    const alice = await createUser(t.app, { groupIds: [group.id] });
    const bob = await createUser(t.app, { groupIds: [group.id] });

    const started = await t.app.inject({
      method: "POST",
      url: `/api/services/${service.id}/sessions`,
      headers: alice.headers,
      payload: { durationSeconds: 600, reason: "customer call" },
    });
    expect(started.statusCode).toBe(201);
    const session = ZSession.parse(started.json());
    expect(session.status).toBe("active");
    expect(new Date(session.expiresAt!).getTime() - new Date(session.startedAt!).getTime()).toBe(600_000);

    const conflict = await t.app.inject({
      method: "POST",
      url: `/api/services/${service.id}/sessions`,
      headers: bob.headers,
      payload: { durationSeconds: 600 },
    });
    expect(conflict.statusCode).toBe(409);
    const body = ZErrorBody.parse(conflict.json());
    expect(body.error.message).toContain(alice.username);
    expect(ZConflictDetails.parse(body.error.details).holder.username).toBe(alice.username);
    expect(await t.app.ctx.db.accessSession.count()).toBe(1);
  });

  it("expires a session on time and after a restart", async () => {
    const service = await createService(t.app, { exclusive: true });
    const admin = await createUser(t.app, { role: "admin" });
    const res = await t.app.inject({
      method: "POST",
      url: `/api/services/${service.id}/sessions`,
      headers: admin.headers,
      payload: { durationSeconds: 60 },
    });
    const { id } = ZSession.parse(res.json());

    await t.app.close();
    clock.advance(61_000);
    await t.restart();
    await expect.poll(async () => (await t.app.ctx.db.accessSession.findUniqueOrThrow({ where: { id } })).status, { timeout: 2000 }).toBe("expired");
    const events = await t.app.ctx.db.auditEvent.findMany({ where: { sessionId: id }, orderBy: { seq: "asc" } });
    expect(events.map((e) => e.action)).toEqual(["session.started", "session.expired"]);
  });
});
